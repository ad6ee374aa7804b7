//! Routing rules edited at run time: an ordered list of recipient prefix → modem group, stored in the
//! database, applied to every message accepted after the change (no restart), audited.
//!
//! Order of routing for a message: its explicit `group`; else the first matching run-time rule; else the
//! first matching `[[dispatch.route]]` rule of the config file (by account and/or prefix); else any
//! modem. Messages already queued keep the group they were accepted with.
//!
//! The list is replaced as a whole, guarded by a revision (a digest of the list the editor started
//! from), so two operators editing at once cannot silently overwrite each other.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AppError, AppResult, Gateway, Principal};
use crate::config::RouteRule;
use crate::store::StoredRouteRule;

/// Most run-time rules (a longer first-match list is a configuration smell and slows every submit).
pub const MAX_RULES: usize = 200;
/// Most digits of an E.164 number (ITU-T E.164 §6.1), so the longest useful prefix.
const E164_MAX_DIGITS: usize = 15;
/// Hex digits of the revision shown to editors.
const REVISION_HEX: usize = 16;

/// The routing rules as an editor sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingRules {
    /// Run-time rules, tried first, in order.
    pub rules: Vec<StoredRouteRule>,
    /// `[[dispatch.route]]` rules of the config file, tried after (read-only here).
    pub configured: Vec<RouteRule>,
    /// Digest of `rules`; a replacement must name it.
    pub revision: String,
    /// Modem groups a rule may send to.
    pub groups: Vec<String>,
}

/// The revision of a list of rules.
pub fn revision(rules: &[StoredRouteRule]) -> String {
    let canonical = serde_json::to_string(rules).unwrap_or_default();
    let mut hex = hex::encode(Sha256::digest(canonical.as_bytes()));
    hex.truncate(REVISION_HEX);
    hex
}

/// The first run-time rule matching `recipient` (E.164 with `+`).
pub fn first_match<'a>(rules: &'a [StoredRouteRule], recipient: &str) -> Option<&'a StoredRouteRule> {
    rules.iter().find(|r| recipient.starts_with(&r.prefix))
}

/// Parses the editor's text: one rule per line, `PREFIX GROUP` (e.g. `+4860 otp`); blank lines and
/// lines starting with `#` are skipped. Errors name the line.
pub fn parse_rules(text: &str) -> AppResult<Vec<StoredRouteRule>> {
    let mut rules = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(prefix), Some(group), None) = (words.next(), words.next(), words.next()) else {
            return Err(AppError::validation(
                &format!("rules line {}", i + 1),
                "must be a prefix and a group, e.g. `+4860 otp`",
            ));
        };
        rules.push(StoredRouteRule {
            prefix: prefix.to_owned(),
            group: group.to_owned(),
        });
    }
    Ok(rules)
}

/// The rules as editor text (the inverse of [`parse_rules`]).
pub fn rules_text(rules: &[StoredRouteRule]) -> String {
    rules
        .iter()
        .map(|r| format!("{} {}\n", r.prefix, r.group))
        .collect()
}

/// Checks a list against the known modem `groups`: prefixes are `+` and 1–15 digits, groups exist, no
/// prefix repeats, and no rule is unreachable behind an earlier, shorter prefix.
pub fn validate_rules(rules: &[StoredRouteRule], groups: &[String]) -> AppResult<()> {
    if rules.len() > MAX_RULES {
        return Err(AppError::validation(
            "rules",
            format!("at most {MAX_RULES} rules"),
        ));
    }
    for (i, r) in rules.iter().enumerate() {
        let field = format!("rules[{i}]");
        let digits = r.prefix.strip_prefix('+').unwrap_or("");
        if digits.is_empty() || digits.len() > E164_MAX_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(AppError::validation(
                &format!("{field}.prefix"),
                format!(
                    "{:?} must be + followed by 1 to {E164_MAX_DIGITS} digits (e.g. +4860)",
                    r.prefix
                ),
            ));
        }
        if !groups.contains(&r.group) {
            return Err(AppError::validation(
                &format!("{field}.group"),
                format!("unknown modem group {:?}; known: {}", r.group, groups.join(", ")),
            ));
        }
        if let Some((j, earlier)) = rules[..i]
            .iter()
            .enumerate()
            .find(|(_, e)| r.prefix.starts_with(&e.prefix))
        {
            return Err(AppError::validation(
                &format!("{field}.prefix"),
                format!(
                    "{} can never match: rule {} ({}) comes first and covers it",
                    r.prefix,
                    j + 1,
                    earlier.prefix
                ),
            ));
        }
    }
    Ok(())
}

impl Gateway {
    /// The run-time rules the next submit uses (lock-free; one reference count per call).
    pub(crate) fn live_route_rules(&self) -> std::sync::Arc<Vec<StoredRouteRule>> {
        self.inner.routes.load_full()
    }

    /// Modem groups a rule may name: configured modems' groups, `default`, the config file's routing
    /// targets, and the groups of modems the gateway has seen.
    async fn routable_groups(&self) -> AppResult<Vec<String>> {
        let mut groups = super::submit::known_groups(&self.inner.settings);
        groups.extend(
            self.inner
                .store
                .modems()
                .await?
                .into_iter()
                .filter_map(|m| m.group),
        );
        groups.sort();
        groups.dedup();
        Ok(groups)
    }

    /// The rules for an editor (operators).
    pub async fn routing_rules(&self, who: &Principal) -> AppResult<RoutingRules> {
        who.require_operator()?;
        let rules = self.live_route_rules().as_ref().clone();
        Ok(RoutingRules {
            revision: revision(&rules),
            rules,
            configured: self.inner.settings.dispatch.routes.clone(),
            groups: self.routable_groups().await?,
        })
    }

    /// Validates a proposed list without saving it (the panel's preview step).
    pub async fn check_routing_rules(&self, who: &Principal, rules: &[StoredRouteRule]) -> AppResult<()> {
        who.require_operator()?;
        validate_rules(rules, &self.routable_groups().await?)
    }

    /// Replaces the run-time rules (operators). `expected_revision` is the revision the editor started
    /// from; if the rules changed since, nothing is saved (`Conflict`). Stored, then applied to the next
    /// submit, then audited with the old and the new list.
    pub async fn set_routing_rules(
        &self,
        who: &Principal,
        rules: Vec<StoredRouteRule>,
        expected_revision: &str,
        source_ip: Option<String>,
    ) -> AppResult<RoutingRules> {
        who.require_operator()?;
        validate_rules(&rules, &self.routable_groups().await?)?;
        let _editing = self.inner.routes_edit.lock().await;
        let before = self.live_route_rules();
        if revision(&before) != expected_revision {
            return Err(AppError::Conflict(
                "the routing rules were changed by someone else meanwhile; reload and edit again".into(),
            ));
        }
        self.inner
            .store
            .replace_route_rules(rules.clone(), self.now_ms())
            .await?;
        self.inner.routes.store(std::sync::Arc::new(rules.clone()));
        tracing::info!(login = %who.login, rules = rules.len(), "routing rules changed");
        self.audit(
            Some(who),
            None,
            source_ip,
            "routing.changed",
            Some(format!(
                "before=[{}] after=[{}]",
                rules_text(&before).trim_end().replace('\n', "; "),
                rules_text(&rules).trim_end().replace('\n', "; ")
            )),
        )
        .await;
        drop(_editing);
        self.routing_rules(who).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: &str, group: &str) -> StoredRouteRule {
        StoredRouteRule {
            prefix: prefix.into(),
            group: group.into(),
        }
    }

    #[test]
    fn parse_and_render() {
        let text = "# comment\n+4860 otp\n\n  +44   uk  \n";
        let rules = parse_rules(text).unwrap();
        assert_eq!(rules, vec![rule("+4860", "otp"), rule("+44", "uk")]);
        assert_eq!(rules_text(&rules), "+4860 otp\n+44 uk\n");
        let cases = [
            ("+48", "rules line 1"),
            ("+48 a b", "rules line 1"),
            ("\n\nx", "rules line 3"),
        ];
        for (input, field) in cases {
            match parse_rules(input) {
                Err(AppError::Validation { field: f, .. }) => assert_eq!(f, field, "{input:?}"),
                other => panic!("{input:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn validation_names_the_rule() {
        let groups = vec!["default".to_owned(), "otp".to_owned(), "uk".to_owned()];
        let ok = [rule("+4860", "otp"), rule("+48", "default"), rule("+44", "uk")];
        assert_eq!(validate_rules(&ok, &groups), Ok(()));
        let cases: &[(&[StoredRouteRule], &str, &str)] = &[
            (&[rule("48", "otp")], "rules[0].prefix", "must be +"),
            (&[rule("+", "otp")], "rules[0].prefix", "must be +"),
            (&[rule("+48x", "otp")], "rules[0].prefix", "must be +"),
            (
                &[rule("+1234567890123456", "otp")],
                "rules[0].prefix",
                "15 digits",
            ),
            (&[rule("+48", "nowhere")], "rules[0].group", "unknown modem group"),
            (
                &[rule("+48", "otp"), rule("+4860", "uk")],
                "rules[1].prefix",
                "rule 1 (+48)",
            ),
            (
                &[rule("+48", "otp"), rule("+48", "uk")],
                "rules[1].prefix",
                "never match",
            ),
        ];
        for (rules, field, words) in cases {
            match validate_rules(rules, &groups) {
                Err(AppError::Validation { field: f, message }) => {
                    assert_eq!(f, *field, "{rules:?}");
                    assert!(message.contains(words), "{message}");
                }
                other => panic!("{rules:?}: {other:?}"),
            }
        }
        let many = vec![rule("+1", "otp"); MAX_RULES + 1];
        assert!(validate_rules(&many, &groups).is_err());
    }

    #[test]
    fn first_match_wins_and_revision_follows_content() {
        let rules = [rule("+4860", "otp"), rule("+48", "default")];
        let cases = [
            ("+48601000000", Some("otp")),
            ("+48500000000", Some("default")),
            ("+44700", None),
        ];
        for (to, group) in cases {
            assert_eq!(first_match(&rules, to).map(|r| r.group.as_str()), group, "{to}");
        }
        assert_eq!(revision(&rules), revision(&rules.clone()));
        assert_ne!(revision(&rules), revision(&rules[..1]));
        assert_eq!(revision(&[]).len(), REVISION_HEX);
    }

    /// Run-time rules apply to the next submit (before the config file's), survive a restart, are
    /// audited, refuse a stale revision and are for operators only.
    #[tokio::test]
    async fn rules_apply_live_persist_and_are_audited() {
        use crate::app::{Role, SubmitRequest};
        use crate::config::{RouteRule, Settings};
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::default_with_data_dir(dir.path());
        settings.dispatch.routes = vec![RouteRule {
            account: None,
            prefix: Some("+44".into()),
            group: "uk".into(),
        }];
        let (gw, _) = Gateway::open(settings.clone()).await.unwrap();
        let admin = gw
            .create_account(None, "root", "h".into(), Role::Admin)
            .await
            .unwrap();
        let admin = Principal::of(&admin);
        let tech = Principal::of(
            &gw.create_account(Some(&admin), "tech", "h".into(), Role::Technician)
                .await
                .unwrap(),
        );
        let client = Principal::of(
            &gw.create_account(Some(&admin), "shop", "h".into(), Role::Client)
                .await
                .unwrap(),
        );
        let group_of = async |to: &str| {
            let r = SubmitRequest::new(vec![to.to_owned()], "x");
            gw.submit(&client, r, None).await.unwrap()[0].group.clone()
        };
        assert_eq!(group_of("+447700900123").await.as_deref(), Some("uk"));
        assert_eq!(group_of("+48600100200").await, None);

        assert!(matches!(
            gw.routing_rules(&client).await,
            Err(AppError::Forbidden(_))
        ));
        let start = gw.routing_rules(&tech).await.unwrap();
        assert_eq!((start.rules.len(), start.configured.len()), (0, 1));
        assert!(start.groups.contains(&"uk".to_owned()) && start.groups.contains(&"default".to_owned()));
        let new = vec![rule("+4860", "default"), rule("+447", "default")];
        let saved = gw
            .set_routing_rules(&tech, new.clone(), &start.revision, Some("192.0.2.9".into()))
            .await
            .unwrap();
        assert_eq!(saved.rules, new);
        // Applied to the next message, ahead of the config file's +44 rule.
        assert_eq!(group_of("+447700900123").await.as_deref(), Some("default"));
        assert_eq!(group_of("+48600100200").await.as_deref(), Some("default"));
        assert_eq!(group_of("+442071234567").await.as_deref(), Some("uk"));
        // The editor that started from the old list is refused.
        let stale = gw
            .set_routing_rules(&admin, Vec::new(), &start.revision, None)
            .await;
        assert!(matches!(stale, Err(AppError::Conflict(_))), "{stale:?}");
        let invalid = gw
            .set_routing_rules(&admin, vec![rule("+48", "nowhere")], &saved.revision, None)
            .await;
        assert!(matches!(invalid, Err(AppError::Validation { .. })), "{invalid:?}");
        assert!(matches!(
            gw.set_routing_rules(&client, Vec::new(), &saved.revision, None)
                .await,
            Err(AppError::Forbidden(_))
        ));
        let audit = gw.audit_log(&admin, None, 10).await.unwrap();
        let entry = audit.iter().find(|e| e.action == "routing.changed").unwrap();
        assert_eq!(entry.actor.as_deref(), Some("tech"));
        assert_eq!(entry.source_ip.as_deref(), Some("192.0.2.9"));
        assert_eq!(
            entry.details.as_deref(),
            Some("before=[] after=[+4860 default; +447 default]")
        );
        gw.shutdown().await;

        let (again, _) = Gateway::open(settings).await.unwrap();
        assert_eq!(again.routing_rules(&admin).await.unwrap().rules, new);
        again.shutdown().await;
    }
}
