#!/usr/bin/env python3
"""Static checks of meta-smsgate that need no BitBake (CI cannot run a Yocto build).

What oelint-adv does not see, this does:
  * BitBake syntax of every .bb/.bbappend/.inc/.conf: assignments with a known operator and
    override syntax, balanced quotes over line continuations, shell/python function bodies closed;
  * every `require`/`include` resolves inside the layer;
  * every `file://` in SRC_URI exists in the recipe's files dirs, every `${S}/...` a recipe installs
    exists in the repository (the recipes build from this checkout);
  * conf/layer.conf declares the collection, pattern, priority and series;
  * the kas file parses (YAML), names this layer and builds targets that are recipes here;
  * the wic layout, RAUC's system.conf and image/debian/build.sh agree on the partition names, and
    system.conf's handler paths are what smsgate-boot installs.
Exit 1 with one line per problem.
"""

from __future__ import annotations

import configparser
import pathlib
import re
import sys

LAYER = pathlib.Path(__file__).resolve().parent.parent
REPO = LAYER.parent.parent
# Files other layers provide (oe-core, meta-yocto): not expected in this one.
EXTERNAL = {"conf/distro/poky.conf"}

ASSIGN = re.compile(
    r"""^(?:export\s+)?
        (?P<var>[A-Za-z0-9_][A-Za-z0-9_\-.${}/+~]*)      # variable name (may contain ${PN})
        (?P<flag>\[[A-Za-z0-9_\-+.@/]+\])?               # optional [varflag] (crate versions have '+')
        (?P<ovr>(?::[A-Za-z0-9_\-${}.]+)*)               # :append :remove :${PN} :smsgate ...
        \s*(?P<op>\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)\s*
        (?P<val>.*)$""",
    re.X,
)
DIRECTIVE = re.compile(r"^(inherit|inherit_defer|require|include|addtask|deltask|addhandler|EXPORT_FUNCTIONS)\b")
FUNC_START = re.compile(r"^(?:fakeroot\s+)?(?:python\s+)?[A-Za-z0-9_\-${}.:]*\s*\(\)\s*\{\s*$")


def logical_lines(text: str):
    """Yields (line number, logical line) with backslash continuations joined."""
    buf, start = "", 0
    for no, raw in enumerate(text.splitlines(), 1):
        if not buf:
            start = no
        if raw.endswith("\\"):
            buf += raw[:-1] + " "
            continue
        buf += raw
        yield start, buf
        buf = ""
    if buf:
        yield start, buf


def check_syntax(path: pathlib.Path, problems: list[str]) -> None:
    text = path.read_text()
    in_func = False
    for no, line in logical_lines(text):
        where = f"{path.relative_to(REPO)}:{no}"
        stripped = line.strip()
        if in_func:
            if line.startswith("}"):
                in_func = False
            continue
        if not stripped or stripped.startswith("#"):
            continue
        if FUNC_START.match(stripped):
            in_func = True
            continue
        if DIRECTIVE.match(stripped):
            continue
        m = ASSIGN.match(stripped)
        if not m:
            problems.append(f"{where}: not a BitBake statement: {stripped[:80]}")
            continue
        val = m.group("val").strip()
        if not (val.startswith('"') and val.endswith('"') and len(val) >= 2) and not (
            val.startswith("'") and val.endswith("'") and len(val) >= 2
        ):
            problems.append(f"{where}: value of {m.group('var')} is not one quoted string")
        elif val[0] == '"' and '"' in val[1:-1].replace('\\"', ""):
            problems.append(f"{where}: stray quote in the value of {m.group('var')}")
    if in_func:
        problems.append(f"{path.relative_to(REPO)}: function body not closed with '}}' at column 0")


def check_references(path: pathlib.Path, problems: list[str]) -> None:
    text = path.read_text()
    rel = path.relative_to(REPO)
    for no, line in logical_lines(text):
        m = re.match(r"^\s*(require|include)\s+(\S+)", line)
        if m:
            target = m.group(2)
            if "${" in target or target in EXTERNAL:
                continue
            if not ((path.parent / target).exists() or (LAYER / target).exists()):
                problems.append(f"{rel}:{no}: {m.group(1)} {target}: no such file in the layer")
        for f in re.findall(r"file://([^\s;\"]+)", line):
            dirs = [path.parent / "files", path.parent / path.stem.split("_")[0], path.parent]
            if path.suffix == ".bbappend" or "FILESEXTRAPATHS" in text:
                dirs.append(path.parent / "files")
            if f.startswith("LICENSE"):
                # LIC_FILES_CHKSUM: a file of the source tree (the repository root).
                if not (REPO / f).exists():
                    problems.append(f"{rel}:{no}: license file {f} not in the repository")
                continue
            if not any((d / f).exists() for d in dirs):
                problems.append(f"{rel}:{no}: file://{f} not found next to the recipe")
        for src in re.findall(r"\$\{S\}/([^\s;\"]+)", line):
            if not (REPO / src).exists():
                problems.append(f"{rel}:{no}: installs ${{S}}/{src}, which is not in the repository")


def check_lic_checksum(problems: list[str]) -> None:
    import hashlib

    for path in LAYER.rglob("*.inc"):
        for m in re.finditer(r"file://(LICENSE[^;\s\"]*);md5=([0-9a-f]{32})", path.read_text()):
            actual = hashlib.md5((REPO / m.group(1)).read_bytes()).hexdigest()
            if actual != m.group(2):
                problems.append(f"{path.relative_to(REPO)}: md5 of {m.group(1)} is {actual}, recipe says {m.group(2)}")


def check_layer_conf(problems: list[str]) -> None:
    text = (LAYER / "conf" / "layer.conf").read_text()
    for key in ("BBFILE_COLLECTIONS", "BBFILE_PATTERN_smsgate", "BBFILE_PRIORITY_smsgate", "LAYERSERIES_COMPAT_smsgate"):
        if not re.search(rf"^{key}\s*[+:?]*=", text, re.M):
            problems.append(f"conf/layer.conf: {key} is not set")


def recipes() -> set[str]:
    return {p.name.split("_")[0].removesuffix(".bb") for p in LAYER.rglob("*.bb")}


def check_kas(problems: list[str]) -> None:
    kas = LAYER / "kas" / "smsgate.yml"
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        problems.append("PyYAML is not installed: cannot check the kas file")
        return
    try:
        doc = yaml.safe_load(kas.read_text())
    except yaml.YAMLError as e:
        problems.append(f"{kas.relative_to(REPO)}: not valid YAML: {e}")
        return
    if not isinstance(doc, dict) or "header" not in doc or "repos" not in doc:
        problems.append(f"{kas.relative_to(REPO)}: needs header and repos")
        return
    layers = (doc["repos"].get("smsgate") or {}).get("layers") or {}
    if "image/meta-smsgate" not in layers:
        problems.append(f"{kas.relative_to(REPO)}: repo smsgate must list the layer image/meta-smsgate")
    for target in doc.get("target", []):
        if target not in recipes():
            problems.append(f"{kas.relative_to(REPO)}: target {target} is not a recipe of this layer")
    distro = doc.get("distro")
    if distro and not (LAYER / "conf" / "distro" / f"{distro}.conf").exists():
        problems.append(f"{kas.relative_to(REPO)}: distro {distro} has no conf/distro/{distro}.conf here")


def check_partitions(problems: list[str]) -> None:
    wks = (LAYER / "wic" / "smsgate-ab.wks").read_text()
    wks_names = set(re.findall(r"--part-name\s+(\S+)", wks))
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(LAYER / "recipes-core" / "rauc" / "files" / "system.conf")
    rauc_names = set()
    for section in conf.sections():
        if section.startswith("slot."):
            dev = conf[section].get("device", "")
            rauc_names.add(dev.rsplit("/", 1)[-1])
            if not dev.startswith("/dev/disk/by-partlabel/"):
                problems.append(f"system.conf [{section}]: device should be a /dev/disk/by-partlabel/ name")
    build = (REPO / "image" / "debian" / "build.sh").read_text()
    deb_names = set(re.findall(r'name="([a-z_]+)"', build))
    fstab = (REPO / "image" / "debian" / "rootfs" / "etc" / "fstab").read_text()
    fstab_names = set(re.findall(r"^PARTLABEL=(\S+)", fstab, re.M))
    if not rauc_names <= wks_names:
        problems.append(f"RAUC slots {sorted(rauc_names - wks_names)} are not partitions of smsgate-ab.wks")
    if wks_names != deb_names:
        problems.append(f"wic partitions {sorted(wks_names)} differ from the Debian image's {sorted(deb_names)}")
    if not fstab_names <= deb_names:
        problems.append(f"fstab names {sorted(fstab_names - deb_names)} that the Debian image does not have")
    handlers = conf["handlers"] if conf.has_section("handlers") else {}
    boot_recipe = (LAYER / "recipes-smsgate" / "smsgate-boot" / "smsgate-boot_git.bb").read_text()
    for key in ("bootloader-custom-backend", "post-install"):
        path = handlers.get(key, "")
        name = path.rsplit("/", 1)[-1]
        if not path.startswith("/usr/lib/smsgate/") or name not in boot_recipe:
            problems.append(f"system.conf [handlers] {key}={path} is not installed by smsgate-boot")


def main() -> int:
    problems: list[str] = []
    files = sorted(p for p in LAYER.rglob("*") if p.suffix in {".bb", ".bbappend", ".inc", ".conf"} and "files" not in p.parts)
    for path in files:
        check_syntax(path, problems)
        check_references(path, problems)
    check_lic_checksum(problems)
    check_layer_conf(problems)
    check_kas(problems)
    check_partitions(problems)
    for p in problems:
        print(f"lint-layer: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"lint-layer: {len(files)} files of meta-smsgate are consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
