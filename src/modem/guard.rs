//! Which raw AT command lines a technician may run on a modem that the gateway is driving.
//!
//! The modem actor sets the modem up once per session (echo off, verbose results, PDU mode, new-message
//! routing, storage, registration URCs, SMSC) and relies on that setup for every later command. A raw
//! command that changed it would break the actor silently: `ATE1` makes every answer start with an
//! echo, `AT+CMGF=1` makes the next `AT+CMGS` expect text instead of a PDU, an `AT+CNMI` change loses or
//! duplicates incoming messages, `AT+CFUN=0` takes the radio down, `ATQ1` suppresses every result code so
//! each command would time out. Other commands would break an invariant of the gateway: `AT+CMGD`
//! deletes messages from the SIM before they are stored, `AT+CMGS` sends outside the queue (no record, no
//! rate limit), `ATD` places a call.
//!
//! The rule: **queries (`?`), tests (`=?`) and actions that leave the session setup alone pass; a
//! command that sets a parameter the actor owns is refused with the reason and the way to get the same
//! effect (restart, settings, test SMS, USSD)**. Setting a parameter to the value the actor itself uses
//! (`ATE0`, `ATV1`, `AT+CMGF=0`, `AT+CFUN=1`) passes, since it changes nothing. Each command of a
//! concatenated line (`ATE0V1`, `AT+CSQ;+CMGF=1`) is checked on its own.
use std::fmt;

/// Longest raw command line accepted (V.250 §5.2.1 requires modems to take at least 40 characters;
/// real ones take a few hundred).
pub const MAX_LINE: usize = 512;

/// Why a raw command line is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The offending command (normalised, upper case), e.g. `E1` or `+CMGF=1`.
    pub command: String,
    /// Why, and what to do instead.
    pub reason: &'static str,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} refused: {}", self.command, self.reason)
    }
}

impl std::error::Error for Refusal {}

/// One command of a line: its name (`E`, `&F`, `S7`, `+CMGF`) and what follows it (`1`, `=1`, `?`, `=?`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Command {
    name: String,
    rest: String,
}

impl Command {
    fn shown(&self) -> String {
        format!("{}{}", self.name, self.rest)
    }

    /// `?` or `=?`: asks, changes nothing.
    fn is_query(&self) -> bool {
        self.rest == "?" || self.rest == "=?"
    }

    /// The value of a basic command (`E1` → 1; missing means 0, V.250 §5.3.1).
    fn basic_value(&self) -> Option<u32> {
        let digits = self.rest.trim();
        if digits.is_empty() {
            Some(0)
        } else {
            digits.parse().ok()
        }
    }

    /// The first parameter of an extended set command (`+CFUN=1,1` → `1`), if it is one.
    fn first_param(&self) -> Option<&str> {
        self.rest
            .strip_prefix('=')
            .map(|p| p.split(',').next().unwrap_or("").trim())
    }

    fn is_set(&self) -> bool {
        self.rest.starts_with('=') && !self.is_query()
    }
}

/// Checks a raw command line. `Ok` carries the trimmed line to send.
pub fn check(line: &str) -> Result<String, Refusal> {
    let line = line.trim();
    let refuse = |command: &str, reason: &'static str| Refusal {
        command: command.to_owned(),
        reason,
    };
    if line.len() > MAX_LINE {
        return Err(refuse("line", "longer than 512 characters"));
    }
    if line.chars().any(|c| c.is_control()) {
        // Ctrl-Z would end a PDU, ESC would cancel one: neither belongs in a command line.
        return Err(refuse("line", "contains control characters"));
    }
    for command in split(line)? {
        judge(&command)?;
    }
    Ok(line.to_owned())
}

/// Splits `AT...` into its commands (V.250 §5.2: basic commands may follow each other directly,
/// extended ones are separated by `;`).
fn split(line: &str) -> Result<Vec<Command>, Refusal> {
    let upper = line.to_ascii_uppercase();
    let Some(body) = upper.strip_prefix("AT") else {
        return Err(Refusal {
            command: line.chars().take(16).collect(),
            reason: "a command line starts with AT",
        });
    };
    let chars: Vec<char> = body.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ';' || c == ' ' {
            i += 1;
            continue;
        }
        if matches!(c, '+' | '^' | '$' | '%' | '*' | '#' | '!' | '_') {
            // Extended (or vendor) command: the name runs to `=`/`?`, the rest to `;` outside quotes.
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            let rest_start = i;
            let mut quoted = false;
            while i < chars.len() && (quoted || chars[i] != ';') {
                if chars[i] == '"' {
                    quoted = !quoted;
                }
                i += 1;
            }
            let rest: String = chars[rest_start..i].iter().collect();
            out.push(Command { name, rest });
        } else if c == 'D' {
            // Dial: everything after D is the dial string (V.250 §6.3.1).
            out.push(Command {
                name: "D".into(),
                rest: chars[i + 1..].iter().collect(),
            });
            break;
        } else if c == '&' || c.is_ascii_alphabetic() {
            let start = i;
            i += if c == '&' { 2 } else { 1 };
            let name: String = chars[start..i.min(chars.len())].iter().collect();
            let rest_start = i.min(chars.len());
            // S-registers: `S7=60`, `S0?`; other basic commands take digits.
            while i < chars.len() && (chars[i].is_ascii_digit() || (c == 'S' && "=?".contains(chars[i]))) {
                i += 1;
            }
            let rest: String = chars[rest_start..i.min(chars.len())].iter().collect();
            out.push(Command { name, rest });
        } else {
            return Err(Refusal {
                command: c.to_string(),
                reason: "not an AT command",
            });
        }
    }
    Ok(out)
}

/// The rule for one command.
fn judge(cmd: &Command) -> Result<(), Refusal> {
    let refuse = |reason: &'static str| {
        Err(Refusal {
            command: cmd.shown(),
            reason,
        })
    };
    if cmd.is_query() {
        return Ok(());
    }
    match cmd.name.as_str() {
        "E" if cmd.basic_value() != Some(0) => {
            refuse("the gateway runs the modem with echo off (ATE0); echo on would garble every answer")
        }
        "V" if cmd.basic_value() != Some(1) => refuse("the gateway needs verbose result codes (ATV1)"),
        "Q" if cmd.basic_value() != Some(0) => {
            refuse("without result codes (ATQ1) every later command would time out")
        }
        "Z" | "&F" => refuse("resets the modem's setup; use restart instead"),
        "D" => refuse("the gateway does not place calls; use USSD for codes like *100#"),
        "+CMGF" if cmd.first_param() != Some("0") => {
            refuse("the gateway sends and reads in PDU mode (AT+CMGF=0)")
        }
        "+CNMI" => refuse("new-message routing is set up by the gateway; an other setting loses messages"),
        "+CPMS" => refuse("message storage is chosen by the gateway (modem storage setting)"),
        "+CSCS" => refuse("the gateway reads identities and USSD in the modem's default character set"),
        "+CMEE" if !matches!(cmd.first_param(), Some("1" | "2")) => {
            refuse("the gateway needs error codes (AT+CMEE=1 or 2)")
        }
        "+CFUN" if cmd.is_set() && cmd.rest.trim() != "=1" => {
            refuse("takes the radio down or resets the modem; use restart instead")
        }
        "+CREG" | "+CEREG" if cmd.is_set() => refuse("registration reporting is set up by the gateway"),
        "+CSCA" if cmd.is_set() => refuse("the SMSC is a modem setting: change it in the modem's settings"),
        "+IPR" | "+ICF" | "+IFC" => refuse("changes the serial line; the gateway would lose the modem"),
        "+CMGD" => refuse("messages leave the SIM only after the gateway stored them"),
        "+CMGS" | "+CMSS" | "+CMGW" | "+CMGC" => refuse("messages go through the queue: use the test SMS"),
        _ => Ok(()),
    }
}

/// The line as it may be written to logs and the audit log: arguments of PIN and password commands
/// (`+CPIN`, `+CPIN2`, `+CLCK`, `+CPWD`) are masked.
pub fn redact(line: &str) -> String {
    let upper = line.trim().to_ascii_uppercase();
    for secret in ["+CPIN2=", "+CPIN=", "+CLCK=", "+CPWD="] {
        if let Some(at) = upper.find(secret) {
            let keep = at + secret.len();
            return format!("{}<redacted>", &line.trim()[..keep]);
        }
    }
    line.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ok(())` when allowed, else the refused command.
    fn check_line(line: &str, expect: Result<(), &str>) {
        let got = check(line).map(|_| ()).map_err(|r| r.command);
        assert_eq!(got, expect.map_err(str::to_owned), "{line}");
    }

    #[test]
    fn allowed_and_refused_lines() {
        for (line, expect) in [
            ("AT", Ok(())),
            ("AT+CSQ", Ok(())),
            ("at+csq", Ok(())),
            ("AT+CGSN", Ok(())),
            ("AT+COPS?", Ok(())),
            ("AT+COPS=?", Ok(())),
            ("AT+CMGF?", Ok(())),
            ("AT+CMGF=0", Ok(())),
            ("AT+CMGF=1", Err("+CMGF=1")),
            ("ATE0", Ok(())),
            ("ATE", Ok(())),
            ("ATE1", Err("E1")),
            ("ATE0V1", Ok(())),
            ("ATV0", Err("V0")),
            ("ATQ1", Err("Q1")),
            ("ATZ", Err("Z")),
            ("AT&F", Err("&F")),
            ("AT&F0", Err("&F0")),
            ("ATI", Ok(())),
            ("ATS0?", Ok(())),
            ("AT+CNMI?", Ok(())),
            ("AT+CNMI=2,1,0,2,0", Err("+CNMI=2,1,0,2,0")),
            ("AT+CFUN=0", Err("+CFUN=0")),
            ("AT+CFUN=4", Err("+CFUN=4")),
            ("AT+CFUN=1,1", Err("+CFUN=1,1")),
            ("AT+CFUN=1", Ok(())),
            ("AT+CFUN?", Ok(())),
            ("AT+CMEE=0", Err("+CMEE=0")),
            ("AT+CMEE=2", Ok(())),
            ("AT+CPMS=\"ME\",\"ME\",\"ME\"", Err("+CPMS=\"ME\",\"ME\",\"ME\"")),
            ("AT+CPMS?", Ok(())),
            ("AT+CSCA?", Ok(())),
            ("AT+CSCA=\"+48601000310\"", Err("+CSCA=\"+48601000310\"")),
            ("AT+CMGD=1", Err("+CMGD=1")),
            ("AT+CMGS=20", Err("+CMGS=20")),
            ("AT+CMGL=4", Ok(())),
            ("AT+CUSD=1,\"*100#\",15", Ok(())),
            ("ATD+48600100200;", Err("D+48600100200;")),
            ("AT+CPIN=1234", Ok(())),
            ("AT+CREG=2", Err("+CREG=2")),
            ("AT+CREG?", Ok(())),
            ("AT+IPR=9600", Err("+IPR=9600")),
            ("AT+CSQ;+CMGF=1", Err("+CMGF=1")),
            ("AT+CSQ;+COPS?", Ok(())),
            ("AT^SYSINFO", Ok(())),
            ("AT+QCCID", Ok(())),
            ("AT+CSCS=\"UCS2\"", Err("+CSCS=\"UCS2\"")),
            ("  AT+CSQ  ", Ok(())),
            ("+CSQ", Err("+CSQ")),
            ("", Err("")),
            ("AT+CSQ\u{1a}", Err("line")),
        ] {
            check_line(line, expect);
        }
        assert!(check(&format!("AT{}", "+CSQ;".repeat(200))).is_err());
    }

    #[test]
    fn refusals_say_why() {
        let r = check("ATE1").unwrap_err();
        assert!(r.to_string().contains("echo"), "{r}");
        let r = check("AT+CFUN=0").unwrap_err();
        assert!(r.to_string().contains("restart"), "{r}");
    }

    #[test]
    fn secrets_are_masked() {
        for (line, shown) in [
            ("AT+CPIN=1234", "AT+CPIN=<redacted>"),
            ("at+cpin=\"1234\"", "at+cpin=<redacted>"),
            ("AT+CPIN2=1111", "AT+CPIN2=<redacted>"),
            ("AT+CLCK=\"SC\",0,\"1234\"", "AT+CLCK=<redacted>"),
            ("AT+CPWD=\"SC\",\"1\",\"2\"", "AT+CPWD=<redacted>"),
            ("AT+CSQ", "AT+CSQ"),
            ("AT+CPIN?", "AT+CPIN?"),
        ] {
            assert_eq!(redact(line), shown, "{line}");
        }
    }
}
