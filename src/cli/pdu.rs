//! `smsgate pdu encode|decode`: the SMS PDU codec on the command line, for operators checking what a
//! modem sent or will be sent.
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use smsgate_pdu::{
    Address, EncodingPolicy, InformationElement, MessageClass, NationalLanguage, Pdu, SubmitOptions, Udh,
    UserData, Validity,
};

/// `smsgate pdu ...`
#[derive(Debug, Args)]
pub struct PduArgs {
    #[command(subcommand)]
    pub command: PduCommand,
}

/// What to do with a PDU.
#[derive(Debug, Subcommand)]
pub enum PduCommand {
    /// Decode a PDU given in hex as a modem shows it in PDU mode (SMSC field first).
    Decode {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The PDU in hex.
        hex: String,
    },
    /// Encode a text as SMS-SUBMIT PDU(s), one per part, for `AT+CMGS`.
    Encode(EncodeArgs),
}

/// Alphabet choice on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EncodingArg {
    /// GSM-7 when every character fits, else UCS-2.
    Auto,
    /// GSM-7 only (error when a character does not fit).
    Gsm7,
    /// UCS-2 always.
    Ucs2,
}

/// National language tables on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NationalArg {
    /// Turkish locking and single shift tables.
    Turkish,
    /// Spanish single shift table.
    Spanish,
    /// Portuguese locking and single shift tables.
    Portuguese,
}

impl From<NationalArg> for NationalLanguage {
    fn from(a: NationalArg) -> Self {
        match a {
            NationalArg::Turkish => NationalLanguage::Turkish,
            NationalArg::Spanish => NationalLanguage::Spanish,
            NationalArg::Portuguese => NationalLanguage::Portuguese,
        }
    }
}

/// Arguments of `smsgate pdu encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// Recipient: +48600100200 (international), 600100200 (national), a short code.
    #[arg(long)]
    pub to: String,
    /// Message text.
    #[arg(long)]
    pub text: String,
    /// SMSC address; omitted = the modem's configured SMSC (`00`).
    #[arg(long)]
    pub smsc: Option<String>,
    /// Alphabet.
    #[arg(long, value_enum, default_value = "auto")]
    pub encoding: EncodingArg,
    /// Request a delivery report (TP-SRR).
    #[arg(long)]
    pub srr: bool,
    /// Validity period, e.g. 30m, 1h, 2d, 1w, 1h30m.
    #[arg(long)]
    pub validity: Option<String>,
    /// Message class 0..3 (0 = flash).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub class: Option<u8>,
    /// Replace characters outside GSM-7 by look-alikes when that makes the text fit GSM-7.
    #[arg(long)]
    pub transliterate: bool,
    /// National language shift tables the encoder may use (TS 23.038 Annex A), comma separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub national: Vec<NationalArg>,
    /// Concatenation reference for long texts (default: random 0..=255).
    #[arg(long)]
    pub concat_ref: Option<u16>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `smsgate pdu ...`, printing to stdout.
pub fn run(args: PduArgs) -> anyhow::Result<()> {
    match args.command {
        PduCommand::Decode { json, hex } => {
            let pdu = smsgate_pdu::decode_hex(&hex).context("cannot decode PDU")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&pdu_json(&pdu))?);
            } else {
                print!("{}", pdu_text(&pdu));
            }
        }
        PduCommand::Encode(a) => {
            let out = encode(&a)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else if let Value::Array(parts) = out {
                for p in parts {
                    println!("AT+CMGS={}", p["length"]);
                    println!("{}", p["pdu"].as_str().unwrap_or_default());
                }
            }
        }
    }
    Ok(())
}

/// Parses `30m`, `1h`, `2d`, `1w`, `45s` and sums like `1h30m`.
pub fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let mut total: u64 = 0;
    let mut num = String::new();
    let mut any = false;
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => bail!("invalid duration {s:?}: unknown unit {c:?} (use s, m, h, d, w)"),
        };
        let n: u64 = num
            .parse()
            .with_context(|| format!("invalid duration {s:?}: a number must precede {c:?}"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .context("duration too long")?;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        bail!("invalid duration {s:?}: expected e.g. 30m, 1h, 2d");
    }
    Ok(Duration::from_secs(total))
}

fn encode(a: &EncodeArgs) -> anyhow::Result<Value> {
    let to = Address::parse(&a.to)?;
    let mut opts = SubmitOptions::new(to);
    if let Some(s) = &a.smsc {
        opts.smsc = Some(Address::parse(s)?);
    }
    opts.srr = a.srr;
    if let Some(v) = &a.validity {
        opts.validity = Validity::Relative(parse_duration(v)?);
    }
    opts.class = a.class.map(MessageClass::from_number);
    opts.text.encoding = match (a.encoding, a.transliterate) {
        (EncodingArg::Ucs2, true) => bail!("--transliterate cannot be combined with --encoding ucs2"),
        (EncodingArg::Ucs2, false) => EncodingPolicy::Ucs2,
        (EncodingArg::Gsm7, false) => EncodingPolicy::Gsm7,
        (EncodingArg::Auto, false) => EncodingPolicy::Auto,
        (_, true) => EncodingPolicy::Gsm7Transliterate,
    };
    opts.text.national_languages = a.national.iter().map(|&n| n.into()).collect();
    opts.text.concat_ref = a.concat_ref.unwrap_or_else(|| u16::from(rand::random::<u8>()));
    let parts = smsgate_pdu::encode_submit(&a.text, &opts)?;
    Ok(Value::Array(
        parts
            .iter()
            .map(|p| json!({ "pdu": p.hex(), "length": p.tpdu_len }))
            .collect(),
    ))
}

fn udh_json(udh: Option<&Udh>) -> Value {
    let Some(udh) = udh else { return Value::Null };
    let concat = udh.concat().map_or(Value::Null, |c| {
        json!({ "ref": c.reference, "total": c.total, "seq": c.seq, "ref_bits": if c.wide { 16 } else { 8 } })
    });
    let ports = udh.ports().map_or(
        Value::Null,
        |p| json!({ "destination": p.destination, "source": p.source }),
    );
    let elements: Vec<Value> = udh
        .elements
        .iter()
        .map(|e| match e {
            InformationElement::Concat(_) => json!({ "type": "concat" }),
            InformationElement::Ports(_) => json!({ "type": "ports" }),
            InformationElement::SingleShift(l) => {
                json!({ "type": "single_shift", "language": l.map_or_else(u32::from, |l| u32::from(l.id())) })
            }
            InformationElement::LockingShift(l) => {
                json!({ "type": "locking_shift", "language": l.map_or_else(u32::from, |l| u32::from(l.id())) })
            }
            InformationElement::Other { id, data } => json!({ "type": "other", "iei": id, "data_hex": hex::encode_upper(data) }),
        })
        .collect();
    json!({ "concat": concat, "ports": ports, "elements": elements })
}

fn validity_json(v: &Validity) -> Value {
    match v {
        Validity::None => Value::Null,
        Validity::Relative(d) => json!({ "relative_seconds": d.as_secs() }),
        Validity::Absolute(t) => json!({ "absolute": rfc3339(*t) }),
        Validity::Enhanced(raw) => json!({ "enhanced_hex": hex::encode_upper(raw) }),
    }
}

fn rfc3339(t: time::OffsetDateTime) -> Value {
    t.format(&time::format_description::well_known::Rfc3339)
        .map_or(Value::Null, Value::String)
}

/// The JSON shape of `smsgate pdu decode --json`.
pub fn pdu_json(pdu: &Pdu) -> Value {
    let (text, data_hex) = match pdu.user_data() {
        Some(UserData::Text(t)) => (json!(t), Value::Null),
        Some(UserData::Binary(b)) => (Value::Null, json!(hex::encode_upper(b))),
        None => (Value::Null, Value::Null),
    };
    let mut v = json!({
        "type": pdu.type_name(),
        "smsc": pdu.smsc().map(|a| a.to_string()),
        "address": pdu.address().to_string(),
        "address_type": format!("{:?}", pdu.address().ton).to_lowercase(),
        "encoding": pdu.alphabet().name(),
        "text": text,
        "data_hex": data_hex,
        "udh": udh_json(pdu.udh()),
        "class": pdu.class().map(|c| c.number()),
        "validity": Value::Null,
        "timestamp": Value::Null,
        "status": Value::Null,
        "srr": Value::Null,
        "mr": Value::Null,
    });
    match pdu {
        Pdu::Deliver(d) => {
            v["timestamp"] = rfc3339(d.scts);
            v["srr"] = json!(d.status_report_indication);
            v["pid"] = json!(d.pid);
            v["dcs"] = json!(d.dcs.raw);
        }
        Pdu::Submit(s) => {
            v["validity"] = validity_json(&s.validity);
            v["srr"] = json!(s.srr);
            v["mr"] = json!(s.mr);
            v["pid"] = json!(s.pid);
            v["dcs"] = json!(s.dcs.raw);
        }
        Pdu::StatusReport(r) => {
            v["timestamp"] = rfc3339(r.scts);
            v["discharge_time"] = rfc3339(r.discharge_time);
            v["mr"] = json!(r.mr);
            v["status"] = json!({
                "code": r.status.0,
                "meaning": r.status.meaning(),
                "category": r.status.category().name(),
                "final": r.status.is_final(),
            });
        }
    }
    v
}

fn pdu_text(pdu: &Pdu) -> String {
    let v = pdu_json(pdu);
    let mut out = String::new();
    if let Value::Object(map) = v {
        for (k, val) in map {
            if val.is_null() {
                continue;
            }
            let shown = match &val {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("{k}: {shown}\n"));
        }
    }
    out
}
