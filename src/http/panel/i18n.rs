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
