#!/usr/bin/python3
"""Interop peer for crates/pdu/tests/gammu_interop.rs: decodes and encodes PDUs with libgammu
(python3-gammu), an independent implementation used by real SMS daemons.

stdin:  {"decode": ["<hex incl. SMSC>", ...],
         "encode": [{"text": "...", "unicode": bool, "layout": "Submit" | "Deliver"}, ...]}
stdout: {"decoded": [{"text": ..., "number": ..., "coding": ..., "validity": ...}, ...],
         "encoded": [["<hex incl. SMSC>", ...], ...]}
"""
import binascii
import datetime
import json
import sys

try:
    import gammu
except ImportError:
    sys.stderr.write("python3-gammu is missing: run tests/run-all.sh or apt-get install python3-gammu\n")
    sys.exit(3)



def clean(text):
    """libgammu 1.42 can append a character read past the user data (the Rust side cuts it off); when that
    character is half of a surrogate pair JSON cannot carry it, so lone halves become U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


req = json.load(sys.stdin)
out = {"decoded": [], "encoded": []}
for hx in req.get("decode", []):
    d = gammu.DecodePDU(binascii.unhexlify(hx), SMSC=True)
    out["decoded"].append({
        "text": clean(d["Text"]) if isinstance(d["Text"], str) else None,
        "number": d["Number"],
        "coding": d["Coding"],
        "validity": d["SMSC"].get("Validity"),
        "type": d["Type"],
        "mr": d["MessageReference"],
        "status": d["DeliveryStatus"],
        "part": d["UDH"].get("PartNumber"),
        "parts": d["UDH"].get("AllParts"),
    })
for e in req.get("encode", []):
    smss = gammu.EncodeSMS({
        "Class": -1,
        "Unicode": e["unicode"],
        "Entries": [{"ID": "ConcatenatedTextLong", "Buffer": e["text"]}],
    })
    parts = []
    for s in smss:
        s["Number"] = "+48600100200"
        s["Type"] = e["layout"]
        s["SMSC"] = {"Location": 0, "Number": "+48601000310"}
        s["DateTime"] = datetime.datetime(2026, 11, 25, 8, 15, 0)
        s["SMSCDateTime"] = datetime.datetime(2026, 11, 25, 8, 15, 0)
        parts.append(binascii.hexlify(gammu.EncodePDU(s, e["layout"])).decode().upper())
    out["encoded"].append(parts)
json.dump(out, sys.stdout)
