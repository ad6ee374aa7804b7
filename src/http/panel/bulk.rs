//! Sending to recipients from a CSV file: upload → preview → confirm.
//!
//! The upload is parsed (RFC 4180 quoting; `,`, `;` or tab detected from the first line; UTF-8 with or
//! without BOM, or UTF-16 with BOM as Excel's "Unicode text" export writes it), the recipient column (and an optional per-row text column) detected from the header or,
//! without one, from the cells that read as phone numbers. Every row is then checked by the gateway's
//! own dry run of a send ([`crate::app::Gateway::dry_run_submit`]), so the preview lists exactly the rows
//! that will be refused and why. The parsed batch waits in the session (a flash) and nothing is stored
//! until the user confirms; the confirmed send is one [`crate::app::Gateway::submit_batch`] (the REST
//! batch's service: all messages stored atomically or none) with an idempotency key derived from the
//! upload, so a double click or a replayed form cannot send twice.
use std::collections::HashMap;
use std::time::Instant;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;

use super::multipart::CsrfMultipart;
use super::pages::{OrPanel, encoding_choice, see_other};
use super::{Chrome, CsrfForm, PanelError, PanelUser, html, session};
use crate::app::{AppError, MAX_RECIPIENTS, SubmitRequest};
use crate::http::ApiState;

/// Most data rows in one CSV (several batches of [`MAX_RECIPIENTS`]; larger lists go through the API).
pub const MAX_CSV_ROWS: usize = 5000;
/// Session slot of the batch awaiting confirmation.
const PENDING_FLASH: &str = "csv_batch";
/// Valid rows listed in the preview (all are counted and sent).
const PREVIEW_ROWS: usize = 20;
/// Data rows looked at when guessing the recipient column of a file without a header.
const SNIFF_ROWS: usize = 100;
/// Prefix of the idempotency key of a confirmed upload.
const IDEMPOTENCY_PREFIX: &str = "panel-csv-";

/// Header names of a recipient column (compared lower-case, trimmed), English and Polish.
const RECIPIENT_HEADERS: &[&str] = &[
    "phone",
    "phone number",
    "number",
    "recipient",
    "to",
    "msisdn",
    "mobile",
    "tel",
    "telephone",
    "telefon",
    "numer",
    "numer telefonu",
    "nr",
    "nr telefonu",
    "odbiorca",
    "komórka",
];
/// Header names of a per-row text column.
const TEXT_HEADERS: &[&str] = &[
    "text",
    "message",
    "body",
    "sms",
    "content",
    "treść",
    "tresc",
    "wiadomość",
    "wiadomosc",
];

/// Why a CSV file cannot be used at all (row problems are listed per row instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("the file is not UTF-8 (or UTF-16 with a BOM) text; save it as \"CSV UTF-8\"")]
    NotUtf8,
    #[error("the file is empty")]
    Empty,
    #[error("line {0}: a quoted field is not closed")]
    UnclosedQuote(usize),
    #[error("the file has more than {MAX_CSV_ROWS} rows; split it or use the API")]
    TooManyRows,
    #[error("no column of phone numbers found; name it \"phone\" in a header line")]
    NoRecipientColumn,
}

/// One line of the file (a quoted field may span lines: `line` is where the record starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub cells: Vec<String>,
}

/// The field separator: the most frequent of `,`, `;`, tab in the first line outside quotes (comma when
/// none occurs: a one-column file).
pub fn detect_delimiter(text: &str) -> char {
    let mut counts = [(',', 0usize), (';', 0), ('\t', 0)];
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' | '\r' if !quoted => break,
            _ if !quoted => {
                if let Some(n) = counts.iter_mut().find(|(d, _)| *d == c) {
                    n.1 += 1;
                }
            }
            _ => {}
        }
    }
    // Ties keep the earlier (comma before semicolon before tab).
    counts
        .iter()
        .fold((',', 0), |best, &(d, n)| if n > best.1 { (d, n) } else { best })
        .0
}

/// Splits CSV text into records (RFC 4180: `"` quotes, `""` inside quotes, CRLF or LF); blank lines are
/// skipped. At most `max_records` records are read (one more is an error).
pub fn parse_csv(text: &str, delimiter: char, max_records: usize) -> Result<Vec<Record>, CsvError> {
    let mut records = Vec::new();
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut start = 1;
    let mut chars = text.chars().peekable();
    let mut finish = |cells: &mut Vec<String>, start: usize| -> Result<(), CsvError> {
        let row = std::mem::take(cells);
        if row.iter().all(|c| c.trim().is_empty()) {
            return Ok(());
        }
        if records.len() == max_records {
            return Err(CsvError::TooManyRows);
        }
        records.push(Record {
            line: start,
            cells: row,
        });
        Ok(())
    };
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    cell.push(c);
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.trim().is_empty() => {
                cell.clear();
                quoted = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                cells.push(std::mem::take(&mut cell));
                finish(&mut cells, start)?;
                line += 1;
                start = line;
            }
            _ if c == delimiter => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err(CsvError::UnclosedQuote(start));
    }
    cells.push(cell);
    finish(&mut cells, start)?;
    Ok(records)
}

/// Where the recipients (and texts) are in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The first record is a header line.
    pub header: bool,
    /// Column names (from the header, else "1", "2", …).
    pub columns: Vec<String>,
    pub recipient: usize,
    pub text: Option<usize>,
}

fn is_header_of(cell: &str, names: &[&str]) -> bool {
    let cell = cell.trim().to_lowercase();
    names.iter().any(|n| *n == cell)
}

/// Finds the recipient column: by header name, else (no header) the column with the most cells that
/// `reads_as_number` accepts among the first rows. A first line without any number-like cell while the
/// others have one is taken for a header too.
pub fn detect_layout(records: &[Record], reads_as_number: impl Fn(&str) -> bool) -> Result<Layout, CsvError> {
    let first = records.first().ok_or(CsvError::Empty)?;
    let width = records.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    if let Some(recipient) = first
        .cells
        .iter()
        .position(|c| is_header_of(c, RECIPIENT_HEADERS))
    {
        return Ok(Layout {
            header: true,
            columns: (0..width)
                .map(|i| {
                    first
                        .cells
                        .get(i)
                        .map(|c| c.trim().to_owned())
                        .unwrap_or_default()
                })
                .collect(),
            recipient,
            text: first.cells.iter().position(|c| is_header_of(c, TEXT_HEADERS)),
        });
    }
    let score = |rows: &[Record], col: usize| {
        rows.iter()
            .take(SNIFF_ROWS)
            .filter(|r| r.cells.get(col).is_some_and(|c| reads_as_number(c)))
            .count()
    };
    let header = !first.cells.iter().any(|c| reads_as_number(c)) && records.len() > 1;
    let data = if header { &records[1..] } else { records };
    let (recipient, best) = (0..width)
        .map(|col| (col, score(data, col)))
        .fold((0, 0), |b, (col, n)| if n > b.1 { (col, n) } else { b });
    if best == 0 {
        return Err(CsvError::NoRecipientColumn);
    }
    Ok(Layout {
        header,
        columns: (0..width)
            .map(|i| {
                if header {
                    first
                        .cells
                        .get(i)
                        .map(|c| c.trim().to_owned())
                        .unwrap_or_default()
                } else {
                    (i + 1).to_string()
                }
            })
            .collect(),
        recipient,
        text: header
            .then(|| first.cells.iter().position(|c| is_header_of(c, TEXT_HEADERS)))
            .flatten(),
    })
}

/// A row that will be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRow {
    pub line: usize,
    pub recipient: String,
    pub text: String,
    pub parts: usize,
}

/// A row that will not be sent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRow {
    pub line: usize,
    pub value: String,
    pub reason: String,
}

/// An upload waiting for confirmation in the session.
#[derive(Debug, Clone)]
pub struct PendingBatch {
    /// Random id: the confirm form names it (a stale preview cannot send another upload) and the
    /// idempotency key is made of it.
    pub id: String,
    pub filename: String,
    pub delimiter: char,
    pub layout: Layout,
    pub valid: Vec<ValidRow>,
    pub invalid: Vec<InvalidRow>,
    pub encoding: String,
    pub delivery_report: bool,
}

impl PendingBatch {
    /// The send requests: rows grouped by text (in file order), at most [`MAX_RECIPIENTS`] each.
    pub fn requests(&self) -> Vec<SubmitRequest> {
        let mut by_text: Vec<(&str, Vec<String>)> = Vec::new();
        for row in &self.valid {
            match by_text
                .iter_mut()
                .find(|(t, r)| *t == row.text && r.len() < MAX_RECIPIENTS)
            {
                Some((_, recipients)) => recipients.push(row.recipient.clone()),
                None => by_text.push((&row.text, vec![row.recipient.clone()])),
            }
        }
        by_text
            .into_iter()
            .map(|(text, recipients)| {
                let mut r = SubmitRequest::new(recipients, text);
                r.encoding = encoding_choice(&self.encoding);
                r.delivery_report = self.delivery_report;
                r
            })
            .collect()
    }
}

/// The message of a dry-run error for one row ("recipients[0]: …" becomes the number's problem).
fn row_reason(e: AppError) -> String {
    match e {
        AppError::Validation { field, message } if field.starts_with("recipients") => message,
        AppError::Validation { field, message } => format!("{field}: {message}"),
        other => other.to_string(),
    }
}

/// UTF-16 byte order marks (Unicode §23.8).
const UTF16_LE_BOM: [u8; 2] = [0xFF, 0xFE];
const UTF16_BE_BOM: [u8; 2] = [0xFE, 0xFF];

/// The text of an upload: UTF-16 when it starts with a UTF-16 BOM, else UTF-8.
fn decode(bytes: &[u8]) -> Result<String, CsvError> {
    let utf16 = |body: &[u8], unit: fn([u8; 2]) -> u16| {
        if body.len() % 2 != 0 {
            return Err(CsvError::NotUtf8);
        }
        let units: Vec<u16> = body.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
        String::from_utf16(&units).map_err(|_| CsvError::NotUtf8)
    };
    match bytes.split_first_chunk::<2>() {
        Some((&UTF16_LE_BOM, body)) => utf16(body, u16::from_le_bytes),
        Some((&UTF16_BE_BOM, body)) => utf16(body, u16::from_be_bytes),
        _ => std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| CsvError::NotUtf8),
    }
}

/// Parses an upload and checks every row with `check` (the gateway's dry run: recipient and text → the
/// normalised recipient and parts, or the reason it would be refused).
pub fn evaluate(
    bytes: &[u8],
    common_text: &str,
    reads_as_number: impl Fn(&str) -> bool,
    check: impl Fn(&str, &str) -> Result<(String, usize), AppError>,
) -> Result<(char, Layout, Vec<ValidRow>, Vec<InvalidRow>), CsvError> {
    let text = decode(bytes)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let delimiter = detect_delimiter(text);
    // One record more than the data limit: the header.
    let records = parse_csv(text, delimiter, MAX_CSV_ROWS + 1)?;
    let layout = detect_layout(&records, reads_as_number)?;
    let data = if layout.header {
        &records[1..]
    } else {
        &records[..]
    };
    if data.len() > MAX_CSV_ROWS {
        return Err(CsvError::TooManyRows);
    }
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for r in data {
        let value = r.cells.get(layout.recipient).map(|c| c.trim()).unwrap_or("");
        let own_text = layout
            .text
            .and_then(|i| r.cells.get(i))
            .map(|t| t.trim())
            .filter(|t| !t.is_empty());
        let text = own_text.unwrap_or(common_text);
        let mut refuse = |reason: String| {
            invalid.push(InvalidRow {
                line: r.line,
                value: value.to_owned(),
                reason,
            })
        };
        if value.is_empty() {
            refuse(format!(
                "no number in column {}",
                layout.columns[layout.recipient]
            ));
            continue;
        }
        if text.is_empty() {
            refuse("no text: fill in the message or a text column".into());
            continue;
        }
        match check(value, text) {
            Ok((recipient, parts)) => {
                if let Some(first) = seen.get(&(recipient.clone(), text.to_owned())) {
                    refuse(format!("same number and text as line {first}"));
                    continue;
                }
                seen.insert((recipient.clone(), text.to_owned()), r.line);
                valid.push(ValidRow {
                    line: r.line,
                    recipient,
                    text: text.to_owned(),
                    parts,
                });
            }
            Err(e) => refuse(row_reason(e)),
        }
    }
    Ok((delimiter, layout, valid, invalid))
}

// ---- pages ----

struct PreviewRow {
    line: usize,
    recipient: String,
    text: String,
    parts: usize,
}

#[derive(Template)]
#[template(path = "send_csv.html")]
struct PreviewPage {
    c: Chrome,
    id: String,
    filename: String,
    delimiter: String,
    columns: Vec<String>,
    recipient_column: String,
    text_column: String,
    header: bool,
    valid_count: usize,
    total_parts: usize,
    shown: Vec<PreviewRow>,
    invalid: Vec<InvalidRow>,
}

fn delimiter_name(d: char) -> &'static str {
    match d {
        ';' => ";",
        '\t' => "TAB",
        _ => ",",
    }
}

/// `POST /panel/send/csv` (multipart: `file`, `text`, `encoding`, `delivery_report`): parses and checks
/// the upload, keeps it in the session and redirects to its preview (post/redirect/get).
pub async fn upload(State(state): State<ApiState>, form: CsrfMultipart) -> Result<Response, PanelError> {
    let lang = form.user.lang;
    let Some(file) = form.file("file") else {
        return Err(PanelError::app(
            AppError::validation("file", "choose a CSV file"),
            lang,
        ));
    };
    let common_text = form.text("text");
    let encoding = form.text("encoding");
    let delivery_report = !form.text("delivery_report").is_empty();
    let user = &form.user;
    let cc = state.gateway.settings().dispatch.default_country_code.clone();
    let check = |number: &str, text: &str| {
        let mut request = SubmitRequest::new(vec![number.to_owned()], text);
        request.encoding = encoding_choice(&encoding);
        request.delivery_report = delivery_report;
        let prepared = state.gateway.dry_run_submit(&user.principal, &request)?;
        prepared
            .into_iter()
            .next()
            .map(|m| (m.recipient, m.parts))
            .ok_or_else(|| AppError::Internal("a dry run produced no message".into()))
    };
    let reads_as_number = |cell: &str| crate::app::numbers::normalize(cell, &cc).is_ok();
    let (delimiter, layout, valid, invalid) = evaluate(&file.data, &common_text, reads_as_number, check)
        .map_err(|e| PanelError::app(AppError::validation("file", e.to_string()), lang))?;
    let batch = PendingBatch {
        id: session::random_token(),
        filename: file.filename.clone().unwrap_or_default(),
        delimiter,
        layout,
        valid,
        invalid,
        encoding,
        delivery_report,
    };
    tracing::info!(
        login = %user.principal.login,
        valid = batch.valid.len(),
        invalid = batch.invalid.len(),
        "panel CSV upload parsed; waiting for confirmation"
    );
    user.sessions
        .put_flash(&user.session_id, PENDING_FLASH, batch, Instant::now());
    Ok(see_other("/panel/send/csv"))
}

/// `GET /panel/send/csv`: the preview of the pending upload (back to the send page when none).
pub async fn preview(user: PanelUser) -> Result<Response, PanelError> {
    let Some(batch) =
        user.sessions
            .peek_flash::<PendingBatch>(&user.session_id, PENDING_FLASH, Instant::now())
    else {
        return Ok(see_other("/panel/send"));
    };
    let t = super::i18n::Tr(user.lang);
    let l = &batch.layout;
    html(&PreviewPage {
        c: Chrome::of(&user, "send"),
        id: batch.id.clone(),
        filename: batch.filename.clone(),
        delimiter: delimiter_name(batch.delimiter).to_owned(),
        columns: l.columns.clone(),
        recipient_column: l.columns.get(l.recipient).cloned().unwrap_or_default(),
        text_column: match l.text.and_then(|i| l.columns.get(i)) {
            Some(col) => format!("{col} {}", t.s("csv.text_column_else")),
            None => t.s("csv.text_from_form").to_owned(),
        },
        header: l.header,
        valid_count: batch.valid.len(),
        total_parts: batch.valid.iter().map(|r| r.parts).sum(),
        shown: batch
            .valid
            .iter()
            .take(PREVIEW_ROWS)
            .map(|r| PreviewRow {
                line: r.line,
                recipient: r.recipient.clone(),
                text: r.text.clone(),
                parts: r.parts,
            })
            .collect(),
        invalid: batch.invalid.clone(),
    })
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    id: String,
    #[serde(default)]
    action: String,
}

/// `POST /panel/send/csv/confirm`: sends the previewed rows as one batch (or discards the upload with
/// `action=cancel`).
pub async fn confirm(
    State(state): State<ApiState>,
    f: CsrfForm<ConfirmForm>,
) -> Result<Response, PanelError> {
    let CsrfForm { user, form } = f;
    let lang = user.lang;
    let now = Instant::now();
    let pending = user
        .sessions
        .peek_flash::<PendingBatch>(&user.session_id, PENDING_FLASH, now)
        .filter(|b| session::tokens_match(&b.id, &form.id));
    let Some(batch) = pending else {
        return Err(PanelError::app(
            AppError::Conflict(super::i18n::Tr(lang).s("csv.expired").to_owned()),
            lang,
        ));
    };
    if form.action == "cancel" {
        user.sessions
            .take_flash::<PendingBatch>(&user.session_id, PENDING_FLASH, now);
        return Ok(see_other("/panel/send"));
    }
    let requests = batch.requests();
    if requests.is_empty() {
        return Err(PanelError::app(
            AppError::validation("file", "no row can be sent"),
            lang,
        ));
    }
    let key = format!("{IDEMPOTENCY_PREFIX}{}", batch.id);
    let sent = state
        .gateway
        .submit_batch(&user.principal, requests, Some(&key))
        .await
        .map_err(|e| e.error)
        .or_panel(lang)?;
    user.sessions
        .take_flash::<PendingBatch>(&user.session_id, PENDING_FLASH, now);
    state
        .gateway
        .audit(
            Some(&user.principal),
            Some(user.principal.account_id),
            Some(user.peer.to_string()),
            "panel.csv_sent",
            Some(format!(
                "file={:?} messages={} refused_rows={}",
                batch.filename,
                sent.len(),
                batch.invalid.len()
            )),
        )
        .await;
    Ok(see_other(&format!("/panel/messages?sent={}", sent.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: usize, cells: &[&str]) -> Record {
        Record {
            line,
            cells: cells.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn delimiter_table() {
        let check = |text: &str, expect: char| assert_eq!(detect_delimiter(text), expect, "{text:?}");
        check("phone,name\n1,2", ',');
        check("phone;name;x\n", ';');
        check("phone\tname", '\t');
        check("\"a;b\",c", ',');
        check("+48600100200", ',');
        check("a;b\nc,d,e,f", ';');
    }

    #[test]
    fn csv_table() {
        let check = |text: &str, d: char, expect: Result<Vec<Record>, CsvError>| {
            assert_eq!(parse_csv(text, d, 10), expect, "{text:?}");
        };
        check(
            "a,b\r\nc,d\r\n",
            ',',
            Ok(vec![rec(1, &["a", "b"]), rec(2, &["c", "d"])]),
        );
        check(
            "a;\"b;c\"\nd",
            ';',
            Ok(vec![rec(1, &["a", "b;c"]), rec(2, &["d"])]),
        );
        check(
            "\"say \"\"hi\"\"\",x\n\n\"two\nlines\",y",
            ',',
            Ok(vec![rec(1, &["say \"hi\"", "x"]), rec(3, &["two\nlines", "y"])]),
        );
        check(" , \n,\n", ',', Ok(vec![]));
        check("a,\"open\nb", ',', Err(CsvError::UnclosedQuote(1)));
        check("x\n".repeat(11).as_str(), ',', Err(CsvError::TooManyRows));
        check(
            "x\n".repeat(10).as_str(),
            ',',
            Ok((1..=10).map(|i| rec(i, &["x"])).collect()),
        );
        check("a,b", ',', Ok(vec![rec(1, &["a", "b"])]));
    }

    fn number(s: &str) -> bool {
        crate::app::numbers::normalize(s, "48").is_ok()
    }

    #[test]
    fn layout_table() {
        let check = |records: Vec<Record>, expect: Result<(bool, usize, Option<usize>), CsvError>| {
            let got = detect_layout(&records, number).map(|l| (l.header, l.recipient, l.text));
            assert_eq!(got, expect, "{records:?}");
        };
        check(
            vec![
                rec(1, &["Name", "Telefon", "Treść"]),
                rec(2, &["Jan", "600100200", "Hej"]),
            ],
            Ok((true, 1, Some(2))),
        );
        check(
            vec![rec(1, &["name", "PHONE"]), rec(2, &["Jan", "x"])],
            Ok((true, 1, None)),
        );
        check(
            vec![rec(1, &["Jan", "+48600100200"]), rec(2, &["Ola", "600100201"])],
            Ok((false, 1, None)),
        );
        check(
            vec![rec(1, &["kto", "gdzie"]), rec(2, &["Jan", "600100200"])],
            Ok((true, 1, None)),
        );
        check(
            vec![rec(1, &["a", "b"]), rec(2, &["c", "d"])],
            Err(CsvError::NoRecipientColumn),
        );
        check(vec![], Err(CsvError::Empty));
    }

    fn fake_check(number: &str, text: &str) -> Result<(String, usize), AppError> {
        let n = crate::app::numbers::normalize(number, "48")
            .map_err(|e| AppError::validation("recipients[0]", format!("{number:?} {e}")))?;
        if text.len() > 20 {
            return Err(AppError::validation("text", "is too long"));
        }
        Ok((n, 1))
    }

    #[test]
    fn evaluation_lists_each_refused_row_with_its_reason() {
        let csv = "\u{feff}name;phone;text\n\
                   Jan;600 100 200;\n\
                   Ola;+48600100201;Hej Ola\n\
                   Bad;12ab;\n\
                   Dup;0048600100200;\n\
                   Long;600100202;this text is much too long\n\
                   Empty;;\n";
        let (d, layout, valid, invalid) = evaluate(csv.as_bytes(), "Hello", number, fake_check).unwrap();
        assert_eq!(d, ';');
        assert_eq!(layout.columns, ["name", "phone", "text"]);
        let v: Vec<_> = valid
            .iter()
            .map(|r| (r.line, r.recipient.as_str(), r.text.as_str()))
            .collect();
        assert_eq!(v, [(2, "+48600100200", "Hello"), (3, "+48600100201", "Hej Ola")]);
        let i: Vec<_> = invalid.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert_eq!(i[0].0, 4);
        assert!(i[0].1.contains("\"12ab\""), "{i:?}");
        assert_eq!(i[1], (5, "same number and text as line 2"));
        assert_eq!(i[2], (6, "text: is too long"));
        assert_eq!(i[3], (7, "no number in column phone"));
        // Without a common text, rows without their own text are refused.
        let (_, _, valid, invalid) = evaluate(csv.as_bytes(), "", number, fake_check).unwrap();
        assert_eq!(valid.len(), 1);
        assert!(
            invalid
                .iter()
                .any(|r| r.line == 2 && r.reason.starts_with("no text"))
        );
    }

    #[test]
    fn excel_unicode_text_is_utf16_with_tabs() {
        let text = "Telefon\tTreść\r\n600100200\tZażółć\r\n";
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        for bytes in [le, be] {
            let (d, _, valid, invalid) = evaluate(&bytes, "", number, fake_check).unwrap();
            assert_eq!(d, '\t');
            assert!(invalid.is_empty(), "{invalid:?}");
            assert_eq!(valid[0].text, "Zażółć");
        }
        assert_eq!(
            evaluate(&[0xFF, 0xFE, 0x41], "x", number, fake_check).err(),
            Some(CsvError::NotUtf8),
            "odd length"
        );
    }

    #[test]
    fn whole_file_errors() {
        let check = |bytes: &[u8], expect: CsvError| {
            assert_eq!(evaluate(bytes, "x", number, fake_check).err(), Some(expect));
        };
        check(b"\xff\xfe p\x00", CsvError::NotUtf8);
        check(b"", CsvError::Empty);
        check(b"a,b\nc,d", CsvError::NoRecipientColumn);
        let big = "phone\n".to_owned() + &"600100200\n".repeat(MAX_CSV_ROWS + 1);
        check(big.as_bytes(), CsvError::TooManyRows);
    }

    #[test]
    fn requests_group_by_text_within_the_recipient_limit() {
        let row = |i: usize, text: &str| ValidRow {
            line: i,
            recipient: format!("+4860010{i:04}"),
            text: text.into(),
            parts: 1,
        };
        let mut valid: Vec<_> = (0..MAX_RECIPIENTS + 1).map(|i| row(i, "a")).collect();
        valid.insert(1, row(99_999, "b"));
        let batch = PendingBatch {
            id: "x".into(),
            filename: String::new(),
            delimiter: ',',
            layout: Layout {
                header: false,
                columns: vec!["1".into()],
                recipient: 0,
                text: None,
            },
            valid,
            invalid: vec![],
            encoding: "gsm7".into(),
            delivery_report: true,
        };
        let requests = batch.requests();
        let shape: Vec<_> = requests
            .iter()
            .map(|r| (r.text.as_str(), r.recipients.len()))
            .collect();
        assert_eq!(shape, [("a", MAX_RECIPIENTS), ("b", 1), ("a", 1)]);
        assert!(requests.iter().all(|r| r.delivery_report));
        assert_eq!(requests[0].encoding, crate::app::EncodingChoice::Gsm7);
    }
}
