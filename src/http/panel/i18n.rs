//! Panel translations: one table of `key → (English, Polish)`; English is the default and the fallback.
//!
//! The table is data so that a missing translation is a test failure (`every_key_is_translated`), not a
//! blank on screen.

/// A panel language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Pl,
}

impl Lang {
    /// Every language, in the order the switcher shows them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Pl];

    /// The language for a cookie value or `lang` parameter (`en`, `pl`); unknown values give `None`.
    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "en" => Some(Lang::En),
            "pl" => Some(Lang::Pl),
            _ => None,
        }
    }

    /// The BCP 47 code (`lang` attribute, cookie value).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pl => "pl",
        }
    }
}

/// Translator handed to templates: `{{ t.s("nav.send") }}`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tr(pub Lang);

impl Tr {
    /// The text for `key` in this language (English when untranslated, the key itself when unknown, so
    /// a typo shows up on screen and in tests rather than as an empty string).
    pub fn s<'a>(&self, key: &'a str) -> &'a str {
        match TABLE.iter().find(|(k, _, _)| *k == key) {
            Some((_, en, pl)) => match self.0 {
                Lang::En => en,
                Lang::Pl if !pl.is_empty() => pl,
                Lang::Pl => en,
            },
            None => key,
        }
    }

    /// The language code.
    pub fn code(&self) -> &'static str {
        self.0.code()
    }
}

/// `(key, English, Polish)`.
pub const TABLE: &[(&str, &str, &str)] = &[
    ("app.name", "smsgate panel", "Panel smsgate"),
    ("nav.dashboard", "Dashboard", "Pulpit"),
    ("nav.send", "Send SMS", "Wyślij SMS"),
    ("nav.messages", "Messages", "Wiadomości"),
    ("nav.inbox", "Inbox", "Odebrane"),
    ("nav.modems", "Modems", "Modemy"),
    ("nav.accounts", "Accounts", "Konta"),
    ("nav.audit", "Audit log", "Dziennik audytu"),
    ("nav.tokens", "API tokens", "Tokeny API"),
    ("nav.account", "My account", "Moje konto"),
    ("nav.logout", "Log out", "Wyloguj"),
    ("nav.language", "Language", "Język"),
    ("login.title", "Log in", "Logowanie"),
    ("login.login", "Login", "Login"),
    ("login.password", "Password", "Hasło"),
    ("login.submit", "Log in", "Zaloguj"),
    (
        "login.failed",
        "Wrong login or password.",
        "Nieprawidłowy login lub hasło.",
    ),
    (
        "login.locked",
        "Too many failed attempts: login is locked for now. Try again in",
        "Zbyt wiele nieudanych prób: logowanie jest chwilowo zablokowane. Spróbuj ponownie za",
    ),
    ("login.seconds", "seconds.", "s."),
    (
        "login.expired",
        "Your session has ended. Please log in again.",
        "Sesja wygasła. Zaloguj się ponownie.",
    ),
    (
        "login.unavailable",
        "Login is temporarily unavailable.",
        "Logowanie jest chwilowo niedostępne.",
    ),
    ("login.logged_out", "You have been logged out.", "Wylogowano."),
    ("dash.title", "Dashboard", "Pulpit"),
    ("dash.sent_today", "Sent today", "Wysłane dziś"),
    ("dash.sent_month", "Sent this month", "Wysłane w tym miesiącu"),
    ("dash.delivery_rate", "Delivery rate", "Skuteczność doręczeń"),
    ("dash.inbox", "Received", "Odebrane"),
    ("dash.quota", "Quota left", "Pozostały limit"),
    ("dash.unlimited", "unlimited", "bez limitu"),
    ("dash.modems_up", "Modems ready", "Gotowe modemy"),
    ("dash.recent", "Recent messages", "Ostatnie wiadomości"),
    ("dash.capped", "counted over the newest", "liczone z najnowszych"),
    ("send.title", "Send SMS", "Wyślij SMS"),
    ("send.recipients", "Recipients", "Odbiorcy"),
    (
        "send.recipients_help",
        "One number per line, or separated by commas or semicolons; +48… or national numbers.",
        "Jeden numer w wierszu lub oddzielone przecinkami albo średnikami; +48… lub numer krajowy.",
    ),
    ("send.text", "Text", "Treść"),
    ("send.encoding", "Alphabet", "Alfabet"),
    (
        "send.enc_auto",
        "Automatic (GSM-7 when possible)",
        "Automatycznie (GSM-7 gdy się da)",
    ),
    ("send.enc_ucs2", "Always UCS-2", "Zawsze UCS-2"),
    ("send.enc_gsm7", "GSM-7 only", "Tylko GSM-7"),
    (
        "send.enc_translit",
        "GSM-7 with look-alikes (ż → z)",
        "GSM-7 z zamiennikami (ż → z)",
    ),
    (
        "send.report",
        "Ask for a delivery report",
        "Żądaj potwierdzenia doręczenia",
    ),
    ("send.submit", "Send", "Wyślij"),
    ("send.chars", "characters", "znaków"),
    ("send.parts", "parts", "części"),
    ("send.left", "left in this part", "zostało w tej części"),
    ("send.preview", "Recipients found", "Znalezieni odbiorcy"),
    ("send.accepted", "Accepted for sending", "Przyjęto do wysłania"),
    ("msg.title", "Messages", "Wiadomości"),
    ("msg.recipient", "Recipient", "Odbiorca"),
    ("msg.status", "Status", "Status"),
    ("msg.any_status", "any status", "dowolny status"),
    ("msg.parts", "Parts", "Części"),
    ("msg.created", "Created", "Utworzono"),
    ("msg.text", "Text", "Treść"),
    ("msg.filter", "Filter", "Filtruj"),
    ("msg.none", "No messages.", "Brak wiadomości."),
    ("msg.detail", "Message", "Wiadomość"),
    ("msg.encoding", "Alphabet", "Alfabet"),
    ("msg.part", "Part", "Część"),
    ("msg.modem", "Modem", "Modem"),
    ("msg.sent_at", "Sent", "Wysłano"),
    ("msg.delivered_at", "Delivered", "Doręczono"),
    ("msg.report", "Report (TP-Status)", "Raport (TP-Status)"),
    ("msg.attempts", "Attempts", "Próby"),
    ("msg.error", "Error", "Błąd"),
    ("msg.cancel", "Cancel sending", "Anuluj wysyłkę"),
    (
        "msg.cancel_confirm",
        "Cancel this message?",
        "Anulować tę wiadomość?",
    ),
    (
        "msg.delivery_report",
        "Delivery report requested",
        "Żądano potwierdzenia doręczenia",
    ),
    ("msg.yes", "yes", "tak"),
    ("msg.no", "no", "nie"),
    ("inbox.title", "Inbox", "Odebrane"),
    ("inbox.from", "From", "Od"),
    ("inbox.received", "Received", "Odebrano"),
    (
        "inbox.none",
        "No received messages.",
        "Brak odebranych wiadomości.",
    ),
    ("inbox.conversation", "Conversation with", "Rozmowa z"),
    ("inbox.incomplete", "incomplete", "niekompletna"),
    ("inbox.all", "All conversations", "Wszystkie rozmowy"),
    ("modems.title", "Modem bank", "Bank modemów"),
    ("modems.name", "Modem", "Modem"),
    ("modems.state", "State", "Stan"),
    ("modems.signal", "Signal", "Sygnał"),
    ("modems.operator", "Operator", "Operator"),
    ("modems.imei", "IMEI", "IMEI"),
    ("modems.iccid", "SIM (ICCID)", "SIM (ICCID)"),
    ("modems.group", "Group", "Grupa"),
    ("modems.sent", "Sent parts", "Wysłane części"),
    ("modems.received", "Received", "Odebrane"),
    ("modems.errors", "Errors", "Błędy"),
    ("modems.last_error", "Last error", "Ostatni błąd"),
    ("modems.updated", "Updated", "Aktualizacja"),
    ("modems.up", "ready", "gotowy"),
    ("modems.down", "down", "niedostępny"),
    ("modems.none", "No modems yet.", "Brak modemów."),
    (
        "modems.live",
        "Refreshes every 2 seconds.",
        "Odświeżane co 2 sekundy.",
    ),
    (
        "sim.title",
        "Simulated modems: deliver an incoming SMS",
        "Symulowane modemy: dostarcz przychodzący SMS",
    ),
    ("sim.modem", "Simulated modem number", "Numer symulowanego modemu"),
    ("sim.from", "Sender", "Nadawca"),
    ("sim.inject", "Deliver", "Dostarcz"),
    (
        "sim.plug",
        "Unplug or replug a simulated modem",
        "Odłącz lub podłącz symulowany modem",
    ),
    ("sim.unplug", "Unplug", "Odłącz"),
    ("sim.replug", "Replug", "Podłącz"),
    (
        "tok.days",
        "Valid for (days, empty = no expiry)",
        "Ważny przez (dni, puste = bez wygaśnięcia)",
    ),
    (
        "sim.done",
        "Delivered to the simulated modem.",
        "Dostarczono do symulowanego modemu.",
    ),
    ("acc.title", "Accounts", "Konta"),
    ("acc.login", "Login", "Login"),
    ("acc.role", "Role", "Rola"),
    ("acc.state", "State", "Stan"),
    ("acc.enabled", "enabled", "aktywne"),
    ("acc.disabled", "disabled", "zablokowane"),
    ("acc.create", "Create account", "Utwórz konto"),
    (
        "acc.password",
        "Initial password (12+ characters)",
        "Hasło początkowe (min. 12 znaków)",
    ),
    ("acc.created", "Account created.", "Utworzono konto."),
    ("acc.disable", "Disable", "Zablokuj"),
    ("acc.enable", "Enable", "Odblokuj"),
    ("me.title", "My account", "Moje konto"),
    ("me.change_password", "Change password", "Zmiana hasła"),
    ("me.current", "Current password", "Obecne hasło"),
    (
        "me.new",
        "New password (12+ characters)",
        "Nowe hasło (min. 12 znaków)",
    ),
    (
        "me.changed",
        "Password changed. Please log in again.",
        "Hasło zmienione. Zaloguj się ponownie.",
    ),
    (
        "me.wrong_current",
        "The current password is wrong.",
        "Obecne hasło jest nieprawidłowe.",
    ),
    (
        "me.delete",
        "Delete my account and data",
        "Usuń moje konto i dane",
    ),
    (
        "me.export",
        "Export my data (JSON)",
        "Eksport moich danych (JSON)",
    ),
    ("del.title", "Deletion request", "Żądanie usunięcia danych"),
    (
        "del.explain_live",
        "Confirming deletes your account, messages, delivery reports, received SMS, API tokens and webhooks from the live system at once. This cannot be undone.",
        "Potwierdzenie natychmiast usuwa z systemu konto, wiadomości, raporty doręczeń, odebrane SMS, tokeny API i webhooki. Tego nie można cofnąć.",
    ),
    (
        "del.explain_backup",
        "Encrypted backups taken before now still contain the data until they expire under the retention policy; they are never restored for other purposes than disaster recovery. The audit log keeps that you asked and when.",
        "Zaszyfrowane kopie zapasowe wykonane wcześniej zawierają dane do czasu ich wygaśnięcia zgodnie z polityką retencji; są odtwarzane wyłącznie w razie awarii. Dziennik audytu zachowuje informację, kto i kiedy zażądał usunięcia.",
    ),
    (
        "del.type_login",
        "Type your login to confirm",
        "Wpisz swój login, aby potwierdzić",
    ),
    ("del.confirm", "Delete everything now", "Usuń wszystko teraz"),
    (
        "del.mismatch",
        "The login typed does not match.",
        "Wpisany login się nie zgadza.",
    ),
    (
        "del.done",
        "Your account and data were deleted.",
        "Konto i dane zostały usunięte.",
    ),
    ("tok.title", "API tokens", "Tokeny API"),
    ("tok.name", "Name", "Nazwa"),
    ("tok.scopes", "Scopes", "Uprawnienia"),
    ("tok.expires", "Expires", "Wygasa"),
    ("tok.never", "never", "nigdy"),
    ("tok.revoked", "revoked", "unieważniony"),
    ("tok.create", "Create token", "Utwórz token"),
    ("tok.revoke", "Revoke", "Unieważnij"),
    (
        "tok.revoke_confirm",
        "Revoke this token?",
        "Unieważnić ten token?",
    ),
    (
        "tok.shown_once",
        "Copy the token now: it is shown only once.",
        "Skopiuj token teraz: jest pokazywany tylko raz.",
    ),
    ("nav.webhooks", "Webhooks", "Webhooki"),
    ("wh.title", "Webhooks", "Webhooki"),
    ("wh.url", "URL (https://…)", "URL (https://…)"),
    ("wh.events", "Events", "Zdarzenia"),
    ("wh.create", "Add webhook", "Dodaj webhook"),
    ("wh.delete", "Delete", "Usuń"),
    ("wh.delete_confirm", "Delete this webhook?", "Usunąć ten webhook?"),
    (
        "wh.secret_once",
        "Signing secret for X-Signature (HMAC-SHA256); copy it now, it is shown only once:",
        "Sekret podpisu X-Signature (HMAC-SHA256); skopiuj go teraz, jest pokazywany tylko raz:",
    ),
    // client certificates, IP pool, CSV upload (panel client pages)
    ("nav.certs", "Certificates", "Certyfikaty"),
    ("nav.ip_pool", "IP pool", "Pula adresów IP"),
    ("common.cancel", "Cancel", "Anuluj"),
    ("cert.title", "Client certificates", "Certyfikaty klienta"),
    (
        "cert.required",
        "Certificate required to log in",
        "Certyfikat wymagany do logowania",
    ),
    ("cert.yes", "yes", "tak"),
    ("cert.no", "no", "nie"),
    (
        "cert.presented",
        "Certificate of this connection (SHA-256)",
        "Certyfikat tego połączenia (SHA-256)",
    ),
    (
        "cert.explain",
        "When a certificate is required, only connections presenting one of the valid certificates below (or one issued by an uploaded CA) can use this account, on the panel and every API.",
        "Gdy certyfikat jest wymagany, z tego konta mogą korzystać tylko połączenia przedstawiające jeden z ważnych certyfikatów poniżej (lub wystawiony przez wgrane CA) — w panelu i każdym API.",
    ),
    ("cert.list", "Bound certificates", "Przypisane certyfikaty"),
    ("cert.none", "No certificates yet.", "Brak certyfikatów."),
    ("cert.kind", "Kind", "Rodzaj"),
    (
        "cert.kind_issued",
        "issued by the appliance",
        "wystawiony przez urządzenie",
    ),
    ("cert.kind_pinned", "own certificate", "własny certyfikat"),
    (
        "cert.kind_ca",
        "own CA (all its certificates)",
        "własne CA (wszystkie jego certyfikaty)",
    ),
    ("cert.subject", "Subject", "Podmiot"),
    ("cert.not_after", "Valid until", "Ważny do"),
    ("cert.state", "State", "Stan"),
    ("cert.valid", "valid", "ważny"),
    ("cert.expired", "expired", "wygasł"),
    ("cert.revoked", "revoked", "unieważniony"),
    (
        "cert.in_use",
        "in use by this connection",
        "używany przez to połączenie",
    ),
    ("cert.revoke", "Revoke", "Unieważnij"),
    (
        "cert.revoke_confirm",
        "Revoke this certificate? Connections presenting it are refused at once.",
        "Unieważnić ten certyfikat? Połączenia z nim zostaną od razu odrzucone.",
    ),
    (
        "cert.lockout",
        "This connection uses this certificate and a certificate is required: after revoking it you will be logged out and can log in again only with another valid certificate.",
        "To połączenie używa tego certyfikatu, a certyfikat jest wymagany: po unieważnieniu zostaniesz wylogowany i zalogujesz się ponownie tylko z innym ważnym certyfikatem.",
    ),
    ("cert.revoke_anyway", "Revoke anyway", "Unieważnij mimo to"),
    (
        "cert.revoked_done",
        "Certificate revoked.",
        "Certyfikat unieważniony.",
    ),
    (
        "cert.request",
        "Request a new client certificate",
        "Nowy certyfikat klienta",
    ),
    (
        "cert.request_help",
        "The appliance's CA issues a certificate for this account. You download it once as a PKCS#12 file (.p12) protected by the password you choose here; the private key is not kept on the appliance.",
        "CA urządzenia wystawi certyfikat dla tego konta. Pobierzesz go jeden raz jako plik PKCS#12 (.p12) chroniony wybranym tu hasłem; klucz prywatny nie jest przechowywany w urządzeniu.",
    ),
    ("cert.days", "Valid for (days)", "Ważność (dni)"),
    (
        "cert.days_range",
        "Validity must be in days",
        "Ważność w dniach musi wynosić",
    ),
    (
        "cert.p12_password",
        "Password of the PKCS#12 file",
        "Hasło pliku PKCS#12",
    ),
    ("cert.p12_password_again", "Password again", "Powtórz hasło"),
    (
        "cert.pw_mismatch",
        "The two passwords differ.",
        "Hasła się różnią.",
    ),
    (
        "cert.pw_short",
        "The password needs at least this many characters:",
        "Minimalna liczba znaków hasła:",
    ),
    ("cert.request_submit", "Issue certificate", "Wystaw certyfikat"),
    ("cert.issued", "Certificate issued.", "Certyfikat wystawiony."),
    (
        "cert.download_once",
        "Download the certificate now: the file can be downloaded only once.",
        "Pobierz certyfikat teraz: plik można pobrać tylko raz.",
    ),
    (
        "cert.download",
        "Download certificate (PKCS#12)",
        "Pobierz certyfikat (PKCS#12)",
    ),
    (
        "cert.upload",
        "Upload your own certificate or CA",
        "Wgraj własny certyfikat lub CA",
    ),
    (
        "cert.upload_help",
        "A certificate (PEM or DER) is accepted as is; a CA certificate accepts every certificate it issues.",
        "Certyfikat (PEM lub DER) jest akceptowany dokładnie ten; certyfikat CA akceptuje każdy wystawiony przez nie certyfikat.",
    ),
    ("cert.file", "Certificate file", "Plik certyfikatu"),
    ("cert.pem", "or paste it (PEM)", "lub wklej go (PEM)"),
    ("cert.upload_submit", "Upload", "Wgraj"),
    (
        "cert.uploaded",
        "Certificate bound to the account.",
        "Certyfikat przypisany do konta.",
    ),
    (
        "cert.upload_missing",
        "Choose a file or paste a PEM certificate.",
        "Wybierz plik lub wklej certyfikat PEM.",
    ),
    (
        "cert.upload_large",
        "The certificate is larger than",
        "Certyfikat jest większy niż",
    ),
    ("pool.title", "IP address pool", "Pula adresów IP"),
    (
        "pool.your_address",
        "Your address as the appliance sees it",
        "Twój adres widziany przez urządzenie",
    ),
    (
        "pool.explain",
        "When the pool is not empty, connections from other addresses cannot use this account, on the panel and every API. An empty pool allows any address.",
        "Gdy pula nie jest pusta, połączenia z innych adresów nie mogą korzystać z tego konta — w panelu i każdym API. Pusta pula dopuszcza każdy adres.",
    ),
    ("pool.entries", "Addresses and ranges", "Adresy i zakresy"),
    (
        "pool.help",
        "One per line: an IPv4 or IPv6 address or a CIDR range (10.0.0.0/8, 2001:db8::/32); # starts a comment.",
        "Jeden w wierszu: adres IPv4 lub IPv6 albo zakres CIDR (10.0.0.0/8, 2001:db8::/32); # zaczyna komentarz.",
    ),
    ("pool.line", "Line", "Wiersz"),
    (
        "pool.invalid",
        "Some lines are not addresses or ranges; nothing was saved.",
        "Niektóre wiersze nie są adresami ani zakresami; nic nie zapisano.",
    ),
    (
        "pool.lockout",
        "Warning: the new pool does not contain your current address, so this session ends and you cannot log in from here any more. Your address:",
        "Uwaga: nowa pula nie zawiera Twojego obecnego adresu, więc ta sesja się zakończy i nie zalogujesz się już stąd. Twój adres:",
    ),
    (
        "pool.save_anyway",
        "Save anyway and lock me out",
        "Zapisz mimo to i odetnij mnie",
    ),
    (
        "pool.save_confirm",
        "Save the IP pool? Connections from other addresses will be refused.",
        "Zapisać pulę adresów? Połączenia z innych adresów będą odrzucane.",
    ),
    ("pool.saved", "IP pool saved.", "Pula adresów zapisana."),
    ("csv.title", "Recipients from a CSV file", "Odbiorcy z pliku CSV"),
    (
        "csv.help",
        "A column of phone numbers (header \"phone\", or detected), optionally a \"text\" column with each row's own message; separated by commas, semicolons or tabs; UTF-8. You see a preview first: nothing is sent before you confirm.",
        "Kolumna numerów telefonów (nagłówek \"telefon\" lub wykryta), opcjonalnie kolumna \"treść\" z własną wiadomością wiersza; separator przecinek, średnik lub tabulator; UTF-8. Najpierw zobaczysz podgląd: nic nie zostanie wysłane przed potwierdzeniem.",
    ),
    ("csv.file", "CSV file", "Plik CSV"),
    (
        "csv.common_text",
        "Message (for rows without their own text)",
        "Wiadomość (dla wierszy bez własnej treści)",
    ),
    ("csv.upload", "Upload and preview", "Wgraj i pokaż podgląd"),
    ("csv.preview_title", "CSV preview", "Podgląd CSV"),
    ("csv.delimiter", "Separator", "Separator"),
    ("csv.columns", "Columns", "Kolumny"),
    (
        "csv.header",
        "first line is a header",
        "pierwszy wiersz to nagłówek",
    ),
    ("csv.recipient_column", "Numbers from column", "Numery z kolumny"),
    ("csv.text_column", "Text from", "Treść z"),
    (
        "csv.text_from_form",
        "the message typed on the send page",
        "wiadomości wpisanej na stronie wysyłki",
    ),
    (
        "csv.text_column_else",
        "(rows where it is empty get the message typed on the send page)",
        "(wiersze z pustą kolumną dostają wiadomość wpisaną na stronie wysyłki)",
    ),
    ("csv.valid", "Rows to send", "Wiersze do wysłania"),
    ("csv.invalid", "Rows refused", "Wiersze odrzucone"),
    ("csv.parts_total", "SMS parts in total", "Łącznie części SMS"),
    (
        "csv.nothing_sent",
        "Nothing has been sent yet.",
        "Nic jeszcze nie wysłano.",
    ),
    (
        "csv.refused_rows",
        "Refused rows (not sent)",
        "Odrzucone wiersze (nie zostaną wysłane)",
    ),
    (
        "csv.first_rows",
        "First rows to send",
        "Pierwsze wiersze do wysłania",
    ),
    ("csv.line", "Line", "Wiersz"),
    ("csv.reason", "Reason", "Powód"),
    ("csv.send", "Send messages", "Wyślij wiadomości"),
    (
        "csv.confirm_question",
        "Send the messages now?",
        "Wysłać teraz wiadomości?",
    ),
    ("csv.discard", "Discard upload", "Odrzuć plik"),
    (
        "csv.expired",
        "This upload was already sent, discarded or has expired; upload the file again.",
        "Ten plik został już wysłany, odrzucony lub wygasł; wgraj go ponownie.",
    ),
    (
        "acc.disable_confirm",
        "Disable this account? Its sessions end at once.",
        "Wyłączyć to konto? Jego sesje zakończą się natychmiast.",
    ),
    ("acc.stages", "Certificates and IP pool", "Certyfikaty i pula IP"),
    ("cert.require", "Require a certificate", "Wymagaj certyfikatu"),
    (
        "cert.unrequire",
        "Stop requiring a certificate",
        "Przestań wymagać certyfikatu",
    ),
    (
        "cert.require_confirm",
        "Require a client certificate? Connections without one of the bound certificates are refused at once.",
        "Wymagać certyfikatu klienta? Połączenia bez jednego z przypisanych certyfikatów będą od razu odrzucane.",
    ),
    (
        "cert.unrequire_confirm",
        "Stop requiring a client certificate? The password alone will again be enough.",
        "Przestać wymagać certyfikatu klienta? Znów wystarczy samo hasło.",
    ),
    (
        "cert.require_lockout",
        "This connection presents no certificate bound to the account: requiring one now ends this session. Use the button again to confirm.",
        "To połączenie nie przedstawia certyfikatu przypisanego do konta: wymaganie go teraz zakończy tę sesję. Użyj przycisku ponownie, aby potwierdzić.",
    ),
    (
        "cert.required_saved",
        "Certificate requirement saved.",
        "Zapisano wymaganie certyfikatu.",
    ),
    // end of client certificates, IP pool, CSV upload
    ("audit.title", "Audit log", "Dziennik audytu"),
    ("audit.at", "When", "Kiedy"),
    ("audit.actor", "Who", "Kto"),
    ("audit.action", "Action", "Akcja"),
    ("audit.source", "From", "Skąd"),
    ("audit.details", "Details", "Szczegóły"),
    ("err.title", "Error", "Błąd"),
    (
        "err.forbidden",
        "You are not allowed to do that.",
        "Brak uprawnień.",
    ),
    ("err.not_found", "Not found.", "Nie znaleziono."),
    (
        "err.csrf",
        "The form was stale or not sent by this panel. Reload the page and try again.",
        "Formularz jest nieaktualny lub nie pochodzi z tego panelu. Odśwież stronę i spróbuj ponownie.",
    ),
    ("err.back", "Back to the dashboard", "Powrót do pulpitu"),
    // modem control (technician pages of one modem)
    ("modem.title", "Modem", "Modem"),
    ("modem.port", "Port", "Port"),
    ("modem.own_number", "Own number", "Własny numer"),
    ("modem.hardware", "Hardware", "Sprzęt"),
    ("modem.queue", "Queue", "Kolejka"),
    ("modem.open", "Details", "Szczegóły"),
    ("modem.ussd", "USSD", "USSD"),
    ("modem.ussd_code", "Code", "Kod"),
    ("modem.ussd_run", "Run USSD", "Wyślij USSD"),
    ("modem.test_sms", "Test SMS", "Testowy SMS"),
    (
        "modem.test_sms_hint",
        "Sent from your account through this modem only, via the normal queue; it expires after 15 minutes.",
        "Wysyłany z Twojego konta tylko przez ten modem, zwykłą kolejką; wygasa po 15 minutach.",
    ),
    ("modem.test_sms_send", "Send test SMS", "Wyślij testowy SMS"),
    (
        "modem.test_sms_queued",
        "Test SMS queued.",
        "Testowy SMS w kolejce.",
    ),
    ("modem.at", "AT console", "Konsola AT"),
    ("modem.at_command", "Command", "Polecenie"),
    (
        "modem.at_hint",
        "Runs in the modem's queue, never during a send; every command is audited. Commands that would break the gateway's setup (ATE1, AT+CMGF=1, AT+CNMI=…, AT+CFUN=0, …) are refused.",
        "Wykonywane w kolejce modemu, nigdy w trakcie wysyłki; każde polecenie trafia do dziennika audytu. Polecenia psujące konfigurację bramki (ATE1, AT+CMGF=1, AT+CNMI=…, AT+CFUN=0, …) są odrzucane.",
    ),
    ("modem.at_run", "Run", "Wykonaj"),
    ("modem.settings", "Settings", "Ustawienia"),
    ("modem.pin", "SIM PIN", "PIN karty SIM"),
    (
        "modem.pin_kept",
        "set (leave empty to keep)",
        "ustawiony (zostaw puste, aby zachować)",
    ),
    ("modem.pin_none", "not set", "nieustawiony"),
    ("modem.pin_clear", "Remove the stored PIN", "Usuń zapisany PIN"),
    ("modem.smsc", "SMSC number", "Numer centrum SMS (SMSC)"),
    ("modem.per_minute", "Parts per minute", "Części na minutę"),
    ("modem.daily", "Daily quota (parts)", "Limit dzienny (części)"),
    (
        "modem.monthly",
        "Monthly quota (parts)",
        "Limit miesięczny (części)",
    ),
    (
        "modem.settings_hint",
        "Kept by IMEI and applied at once. Empty fields use the configuration file; 0 means unlimited.",
        "Zapisywane według IMEI i stosowane od razu. Puste pola biorą wartość z pliku konfiguracji; 0 oznacza brak limitu.",
    ),
    (
        "modem.saved",
        "Settings saved and applied.",
        "Ustawienia zapisane i zastosowane.",
    ),
    ("modem.restart", "Restart modem", "Restartuj modem"),
    (
        "modem.restart_explain",
        "The modem is initialised again; it sends nothing until it is back in service.",
        "Modem zostanie ponownie zainicjowany; do powrotu do pracy nic nie wysyła.",
    ),
    (
        "modem.restart_check",
        "I want to restart this modem",
        "Chcę zrestartować ten modem",
    ),
    (
        "modem.restart_confirm",
        "Restart this modem now?",
        "Zrestartować teraz ten modem?",
    ),
    (
        "modem.restarting",
        "The modem is restarting.",
        "Modem jest restartowany.",
    ),
    // ops: system health and routing rules
    ("nav.system", "System", "System"),
    ("nav.routing", "Routing", "Routing"),
    ("sys.title", "System health", "Stan systemu"),
    ("sys.ready", "Ready to send", "Gotowy do wysyłki"),
    ("sys.not_ready", "Not ready", "Niegotowy"),
    ("sys.queued", "Queued messages", "Wiadomości w kolejce"),
    ("sys.oldest", "Oldest waiting", "Najdłużej czeka"),
    ("sys.modems_ready", "Modems ready", "Gotowe modemy"),
    ("sys.uptime", "Uptime", "Czas działania"),
    ("sys.details", "Details", "Szczegóły"),
    ("sys.version", "Version", "Wersja"),
    ("sys.started", "Started", "Uruchomiono"),
    ("sys.database", "Database", "Baza danych"),
    ("sys.wal", "Write-ahead log", "Dziennik WAL"),
    ("sys.disk", "Disk free / total", "Wolne / całe miejsce"),
    ("sys.sending", "Being sent now", "W trakcie wysyłki"),
    ("sys.backup", "Last backup", "Ostatnia kopia"),
    ("sys.no_backup", "No backup yet", "Brak kopii zapasowej"),
    ("sys.ago", "ago", "temu"),
    ("sys.kept", "kept", "przechowywanych"),
    (
        "sys.certificate",
        "TLS certificate expires",
        "Certyfikat TLS wygasa",
    ),
    ("sys.days_left", "days left", "dni"),
    (
        "sys.queue_by_group",
        "Queue by modem group",
        "Kolejka według grup modemów",
    ),
    ("sys.any_modem", "(any modem)", "(dowolny modem)"),
    (
        "sys.hint",
        "The same figures are served to Prometheus at /metrics and printed by `smsgate status`.",
        "Te same dane są dostępne dla Prometheusa pod /metrics i w poleceniu `smsgate status`.",
    ),
    ("route.title", "Routing rules", "Reguły routingu"),
    (
        "route.explain",
        "A message without an explicit group goes through the first matching rule: the rules edited here first, then those of the config file. Queued messages keep their group.",
        "Wiadomość bez wskazanej grupy idzie przez pierwszą pasującą regułę: najpierw reguły edytowane tutaj, potem te z pliku konfiguracyjnego. Wiadomości w kolejce zachowują swoją grupę.",
    ),
    ("route.matches", "Recipient / account", "Odbiorca / konto"),
    ("route.source", "Defined in", "Zdefiniowana w"),
    ("route.from_panel", "panel", "panelu"),
    (
        "route.from_config",
        "config file (read-only)",
        "pliku konfiguracyjnym (tylko odczyt)",
    ),
    ("route.account", "account", "konto"),
    (
        "route.none",
        "No rules: any modem sends.",
        "Brak reguł: wysyła dowolny modem.",
    ),
    ("route.edit", "Edit the panel rules", "Edycja reguł panelu"),
    (
        "route.rules",
        "Rules, one per line",
        "Reguły, po jednej w wierszu",
    ),
    (
        "route.format",
        "Format: recipient prefix and modem group, e.g. `+4860 otp`. First match wins.",
        "Format: prefiks odbiorcy i grupa modemów, np. `+4860 otp`. Wygrywa pierwsza pasująca.",
    ),
    ("route.groups", "Known groups", "Znane grupy"),
    ("route.preview", "Check and preview", "Sprawdź i pokaż zmiany"),
    (
        "route.confirm_title",
        "Apply these routing rules?",
        "Zastosować te reguły routingu?",
    ),
    (
        "route.confirm_explain",
        "From the moment you apply them, every accepted message is routed by the new list. The change is written to the audit log.",
        "Od chwili zastosowania każda przyjęta wiadomość jest kierowana według nowej listy. Zmiana trafia do dziennika audytu.",
    ),
    ("route.before", "Now", "Teraz"),
    ("route.after", "After the change", "Po zmianie"),
    ("route.apply", "Apply the new rules", "Zastosuj nowe reguły"),
    ("route.cancel", "Back without changes", "Wróć bez zmian"),
    (
        "route.saved",
        "Routing rules applied.",
        "Reguły routingu zastosowane.",
    ),
    (
        "route.conflict",
        "The rules were changed by someone else meanwhile; your edit was not saved. Review the current rules and edit again.",
        "Ktoś inny zmienił w międzyczasie reguły; Twoja zmiana nie została zapisana. Sprawdź aktualne reguły i edytuj ponownie.",
    ),
    (
        "route.confirm_needed",
        "Confirm the change on the preview page.",
        "Potwierdź zmianę na stronie podglądu.",
    ),
    ("common.save", "Save", "Zapisz"),
    ("common.none", "—", "—"),
    ("common.skip", "Skip to content", "Przejdź do treści"),
    // retention, backups, TLS (admin pages)
    ("nav.backups", "Backups", "Kopie zapasowe"),
    ("nav.tls", "TLS certificate", "Certyfikat TLS"),
    ("nav.retention", "Retention", "Retencja"),
    ("ret.title", "Data retention", "Retencja danych"),
    (
        "ret.intro",
        "Messages, delivery reports, inbox and webhook events older than the retention period are deleted every hour, in small batches while sending continues; the freed space is then returned to the disk. Audit entries have their own, longer period.",
        "Wiadomości, raporty doręczenia, odebrane i zdarzenia webhooków starsze niż okres retencji są usuwane co godzinę, małymi porcjami, bez wstrzymywania wysyłki; zwolnione miejsce wraca potem na dysk. Wpisy audytu mają własny, dłuższy okres.",
    ),
    (
        "ret.days",
        "Messages and reports kept (days)",
        "Przechowywanie wiadomości i raportów (dni)",
    ),
    (
        "ret.audit_days",
        "Audit entries kept (days)",
        "Przechowywanie wpisów audytu (dni)",
    ),
    (
        "ret.audit_hint",
        "Never shorter than the message period: the audit log is the proof of every purge and deletion.",
        "Nigdy krócej niż okres wiadomości: dziennik audytu jest dowodem każdego usunięcia.",
    ),
    (
        "ret.grace",
        "Deletion request grace period (hours)",
        "Okres karencji żądania usunięcia (godziny)",
    ),
    (
        "ret.backup_days",
        "Backups kept (days)",
        "Przechowywanie kopii zapasowych (dni)",
    ),
    (
        "ret.config",
        "Config file (days / audit days / grace hours)",
        "Plik konfiguracyjny (dni / dni audytu / godziny karencji)",
    ),
    ("ret.overridden", "overridden in the panel", "zmienione w panelu"),
    ("ret.next", "Next purge", "Następne czyszczenie"),
    ("ret.last", "Last purge", "Ostatnie czyszczenie"),
    ("ret.db", "Database file", "Plik bazy danych"),
    ("ret.free", "free", "wolne"),
    ("ret.change", "Change the periods", "Zmień okresy"),
    (
        "ret.saved",
        "Retention periods saved; they apply from the next purge.",
        "Okresy retencji zapisane; obowiązują od następnego czyszczenia.",
    ),
    ("bak.title", "Backups", "Kopie zapasowe"),
    (
        "bak.intro",
        "Backups are encrypted (age) and readable only with the backup key; clients can never reach them. They expire with the retention period, so deleted data leaves them too.",
        "Kopie są szyfrowane (age) i czytelne tylko z kluczem kopii; klienci nie mają do nich dostępu. Wygasają wraz z okresem retencji, więc usunięte dane znikają i z nich.",
    ),
    ("bak.dir", "Directory", "Katalog"),
    ("bak.keep", "Kept (days)", "Przechowywane (dni)"),
    (
        "bak.interval",
        "Taken every (hours, 0 = never)",
        "Wykonywane co (godziny, 0 = nigdy)",
    ),
    ("bak.key", "Encrypted to", "Szyfrowane dla"),
    (
        "bak.key_own",
        "the appliance's key pair (keep a copy of backup-identity.txt off the appliance)",
        "pary kluczy urządzenia (kopię backup-identity.txt trzymaj poza urządzeniem)",
    ),
    (
        "bak.key_external",
        "external keys (backup.recipients): this appliance cannot decrypt them",
        "klucze zewnętrzne (backup.recipients): to urządzenie nie może ich odszyfrować",
    ),
    ("bak.take", "Take a backup now", "Wykonaj kopię teraz"),
    ("bak.name", "File", "Plik"),
    ("bak.time", "Taken", "Wykonana"),
    ("bak.size", "Size", "Rozmiar"),
    ("bak.schema", "Schema", "Schemat"),
    ("bak.verified_at", "Last verified", "Ostatnio sprawdzona"),
    ("bak.download", "Download", "Pobierz"),
    ("bak.verify", "Verify", "Sprawdź"),
    ("bak.restore", "Restore…", "Przywróć…"),
    (
        "bak.restore_hint",
        "Restoring replaces every account, message and setting with the backup's. The backup is checked now and restored at the next start of the service; the current database is first saved as a new backup.",
        "Przywrócenie zastępuje wszystkie konta, wiadomości i ustawienia zawartością kopii. Kopia jest sprawdzana teraz i przywracana przy następnym starcie usługi; bieżąca baza jest najpierw zapisywana jako nowa kopia.",
    ),
    (
        "bak.confirm",
        "Type the file name to confirm:",
        "Wpisz nazwę pliku, aby potwierdzić:",
    ),
    (
        "bak.mismatch",
        "The name typed does not match the backup; nothing was done.",
        "Wpisana nazwa nie zgadza się z kopią; nic nie zrobiono.",
    ),
    ("bak.created", "Backup taken.", "Kopia wykonana."),
    (
        "bak.verified",
        "Backup verified: it decrypts and its database passes every check.",
        "Kopia sprawdzona: odszyfrowuje się, a jej baza przechodzi wszystkie testy.",
    ),
    (
        "bak.staged",
        "Restore staged: it happens at the next start of the service.",
        "Przywrócenie zaplanowane: nastąpi przy następnym starcie usługi.",
    ),
    (
        "bak.cancelled",
        "Staged restore cancelled.",
        "Zaplanowane przywrócenie anulowane.",
    ),
    ("bak.staged_now", "Restore staged:", "Zaplanowane przywrócenie:"),
    (
        "bak.restart",
        "Restart the service to carry it out (systemctl restart smsgate).",
        "Uruchom ponownie usługę, aby je wykonać (systemctl restart smsgate).",
    ),
    ("bak.cancel", "Cancel the restore", "Anuluj przywrócenie"),
    ("bak.how", "How restore works", "Jak działa przywracanie"),
    (
        "bak.how_text",
        "The running service is never restored under its own feet: the panel checks the backup and stages it, and the service restores it when it starts again (saving the replaced database first). After a disk failure, install the appliance, copy a backup and its key, and run smsgate backup restore with the service stopped; an older backup is migrated at start, a backup from a newer version is refused.",
        "Działająca usługa nigdy nie jest przywracana w trakcie pracy: panel sprawdza kopię i ją planuje, a usługa przywraca ją przy ponownym starcie (najpierw zapisując zastępowaną bazę). Po awarii dysku zainstaluj urządzenie, skopiuj kopię i jej klucz i uruchom smsgate backup restore przy zatrzymanej usłudze; starsza kopia jest migrowana przy starcie, kopia z nowszej wersji jest odrzucana.",
    ),
    ("tls.title", "TLS certificate", "Certyfikat TLS"),
    ("tls.subject", "Subject", "Podmiot"),
    ("tls.names", "Names", "Nazwy"),
    ("tls.issuer", "Issuer", "Wystawca"),
    ("tls.valid", "Valid", "Ważny"),
    ("tls.days_left", "days left", "dni do końca"),
    ("tls.expiring", "expires soon", "wkrótce wygasa"),
    ("tls.origin", "Source", "Źródło"),
    ("tls.in_chain", "in chain", "w łańcuchu"),
    (
        "tls.unavailable",
        "The certificate is only available in the running service.",
        "Certyfikat jest dostępny tylko w działającej usłudze.",
    ),
    (
        "tls.download_ca",
        "Download the appliance CA certificate",
        "Pobierz certyfikat CA urządzenia",
    ),
    ("tls.install", "Install a certificate", "Zainstaluj certyfikat"),
    (
        "tls.install_hint",
        "Paste the certificate chain (leaf first) and its private key, both PEM. They are checked first and served from the next connection, without a restart.",
        "Wklej łańcuch certyfikatów (najpierw końcowy) i klucz prywatny, oba w PEM. Są najpierw sprawdzane i używane od następnego połączenia, bez restartu.",
    ),
    (
        "tls.cert_pem",
        "Certificate chain (PEM)",
        "Łańcuch certyfikatów (PEM)",
    ),
    ("tls.key_pem", "Private key (PEM)", "Klucz prywatny (PEM)"),
    (
        "tls.regenerate",
        "Issue a new appliance certificate",
        "Wystaw nowy certyfikat urządzenia",
    ),
    (
        "tls.regenerate_hint",
        "Drops an installed certificate and serves a new one from the appliance CA (new key). Clients that trust the appliance CA keep working; clients that pinned the old certificate do not.",
        "Usuwa zainstalowany certyfikat i używa nowego z CA urządzenia (nowy klucz). Klienci ufający CA urządzenia działają dalej; klienci przypięci do starego certyfikatu nie.",
    ),
    ("tls.confirm", "I understand", "Rozumiem"),
    (
        "tls.confirm_needed",
        "Tick the confirmation box first; nothing was changed.",
        "Najpierw zaznacz potwierdzenie; nic nie zmieniono.",
    ),
    (
        "tls.applied",
        "Certificate changed; new connections use it now.",
        "Certyfikat zmieniony; nowe połączenia już go używają.",
    ),
    (
        "tls.config_managed",
        "This certificate is set in the config file (tls.cert, tls.key): replace those files and reload the service (systemctl reload smsgate).",
        "Ten certyfikat jest ustawiony w pliku konfiguracyjnym (tls.cert, tls.key): podmień te pliki i przeładuj usługę (systemctl reload smsgate).",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_translated_once() {
        let mut seen = std::collections::HashSet::new();
        for (key, en, pl) in TABLE {
            assert!(seen.insert(*key), "duplicate key {key}");
            assert!(!en.is_empty() && !pl.is_empty(), "{key} lacks a translation");
        }
    }

    #[test]
    fn lookup_and_fallbacks() {
        let check = |lang: Lang, key: &str, expect: &str| assert_eq!(Tr(lang).s(key), expect);
        check(Lang::En, "nav.send", "Send SMS");
        check(Lang::Pl, "nav.send", "Wyślij SMS");
        check(Lang::Pl, "no.such.key", "no.such.key");
        assert_eq!(Lang::parse("pl"), Some(Lang::Pl));
        assert_eq!(Lang::parse("de"), None);
        assert_eq!(Lang::default(), Lang::En);
    }

    #[test]
    fn templates_use_only_known_keys() {
        // Every `t.s("…")` in the templates names a key of the table.
        for (name, source) in super::super::TEMPLATE_SOURCES {
            let mut rest = *source;
            while let Some(i) = rest.find("t.s(\"") {
                rest = &rest[i + 5..];
                let end = rest.find('"').unwrap_or(0);
                let key = &rest[..end];
                assert!(
                    TABLE.iter().any(|(k, _, _)| *k == key),
                    "{name}: unknown key {key}"
                );
            }
        }
    }
}
