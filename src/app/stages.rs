//! Stages 2 and 3 of each account (client certificate, IP pool) as gateway operations: the per-request
//! check every surface runs after stage 1, and the audited management operations (admin only) behind the
//! REST endpoints and the `smsgate account` CLI.
use std::net::IpAddr;
use std::time::Duration as StdDuration;

use rustls::pki_types::{CertificateDer, UnixTime};
use time::{Duration, OffsetDateTime};

use super::{AppError, AppResult, Gateway, Principal};
use crate::auth::stages::{self, Binding, BoundCert, StageError, StagePolicy};
use crate::store::{AccountCert, AccountId, CertKind, NewAccountCert, StageSettings};
use crate::tls::ApplianceCa;

/// Longest validity of an appliance-issued client certificate.
pub const MAX_CLIENT_CERT_DAYS: u32 = 825;

/// A client certificate just issued by the appliance CA. The private key exists only in this value: it is
/// handed out once and never stored.
#[derive(Clone)]
pub struct IssuedCert {
    pub cert: AccountCert,
    pub cert_pem: String,
    pub key_pem: String,
    /// The appliance CA certificate, so the client can also verify the server.
    pub ca_pem: String,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert")
            .field("cert", &self.cert.id)
            .finish_non_exhaustive()
    }
}

/// The stored settings as the pure check wants them.
pub fn policy_of(settings: &StageSettings) -> StagePolicy {
    let mut policy = StagePolicy {
        cert_required: settings.cert_required,
        // Entries were validated when set; one that no longer parses is skipped rather than widening
        // the pool, and an all-unreadable pool admits nobody (the check below keeps it non-empty).
        ip_pool: settings
            .ip_pool
            .iter()
            .filter_map(|e| stages::parse_pool_entry(e).ok())
            .collect(),
        certs: Vec::new(),
        revoked_fingerprints: Vec::new(),
    };
    if policy.ip_pool.is_empty() && !settings.ip_pool.is_empty() {
        policy.ip_pool.push(ipnet::IpNet::from(IpAddr::from([0u8; 16])));
    }
    for c in &settings.certs {
        if c.revoked_at.is_some() {
            policy.revoked_fingerprints.push(c.fingerprint.clone());
        }
        let binding = match c.kind {
            CertKind::Issued | CertKind::Pinned => Binding::Exact {
                fingerprint: c.fingerprint.clone(),
            },
            CertKind::Ca => Binding::Ca { der: c.der.clone() },
        };
        policy.certs.push(BoundCert {
            binding,
            revoked: c.revoked_at.is_some(),
        });
    }
    policy
}

/// Whether a connection from `client` presenting `chain` passes stages 2 and 3 under `settings` at
/// `now_ms`: the panel asks it of a *proposed* change (new IP pool, a revocation) to warn its user before
/// the change locks out the very connection making it.
pub fn admits(
    settings: &StageSettings,
    client: IpAddr,
    chain: Option<&[CertificateDer<'static>]>,
    now_ms: i64,
) -> Result<(), StageError> {
    stages::enforce(&policy_of(settings), client, chain, unix_now(now_ms))
}

fn unix_now(now_ms: i64) -> UnixTime {
    UnixTime::since_unix_epoch(StdDuration::from_millis(u64::try_from(now_ms).unwrap_or(0)))
}

/// Parses one PEM certificate (or DER) into (DER, subject, not_after ms, is_ca).
fn parse_upload(pem_or_der: &[u8]) -> AppResult<(Vec<u8>, String, i64, bool)> {
    let der = if pem_or_der.starts_with(b"-----") {
        let mut reader = pem_or_der;
        rustls_pemfile::certs(&mut reader)
            .next()
            .and_then(Result::ok)
            .map(|c| c.to_vec())
            .ok_or_else(|| AppError::validation("certificate", "no PEM certificate found"))?
    } else {
        pem_or_der.to_vec()
    };
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|_| AppError::validation("certificate", "not a valid X.509 certificate"))?;
    let subject = cert.subject().to_string();
    let not_after = cert.validity().not_after.timestamp().saturating_mul(1000);
    let is_ca = cert.is_ca();
    Ok((der, subject, not_after, is_ca))
}

impl Gateway {
    /// Stages 2 and 3 for a request of `account` from `client` with the TLS-proven `chain`. The outer
    /// error is the store; the inner one the refusal (audited here with the failing stage).
    pub async fn check_stages(
        &self,
        account: AccountId,
        login: &str,
        client: IpAddr,
        chain: Option<&[CertificateDer<'static>]>,
    ) -> AppResult<Result<(), StageError>> {
        let settings = self.inner.store.stage_settings(account).await?;
        let result = stages::enforce(&policy_of(&settings), client, chain, unix_now(self.now_ms()));
        if let Err(e) = &result {
            tracing::info!(peer = %client, login, stage = e.stage().as_str(), reason = e.reason(), "login refused");
            self.audit(
                None,
                Some(account),
                Some(client.to_string()),
                "login.failed",
                Some(format!(
                    "stage={} reason={} login={login}",
                    e.stage().as_str(),
                    e.reason()
                )),
            )
            .await;
        }
        Ok(result)
    }

    /// The stage settings of an account: admins for any account, anyone for their own.
    pub async fn stage_settings(&self, who: &Principal, account: AccountId) -> AppResult<StageSettings> {
        if who.account_id != account {
            who.require_admin()?;
        }
        self.require_account(account).await?;
        Ok(self.inner.store.stage_settings(account).await?)
    }

    async fn require_account(&self, account: AccountId) -> AppResult<()> {
        self.inner
            .store
            .account(account)
            .await?
            .map(|_| ())
            .ok_or(AppError::NotFound("account"))
    }

    /// Requires (or stops requiring) a client certificate for `account` (admin only).
    pub async fn set_cert_required(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        required: bool,
    ) -> AppResult<()> {
        who.require_admin()?;
        if !self.inner.store.set_cert_required(account, required).await? {
            return Err(AppError::NotFound("account"));
        }
        self.audit(
            Some(who),
            Some(account),
            from.map(|a| a.to_string()),
            "account.cert_required_changed",
            Some(format!("required={required}")),
        )
        .await;
        Ok(())
    }

    /// Replaces the IP pool of `account` (admin only); entries are addresses or CIDR ranges, empty clears.
    pub async fn set_ip_pool(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        entries: &[String],
    ) -> AppResult<Vec<String>> {
        who.require_admin()?;
        self.write_ip_pool(who, from, account, entries).await
    }

    async fn write_ip_pool(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        entries: &[String],
    ) -> AppResult<Vec<String>> {
        let mut pool = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let net =
                stages::parse_pool_entry(e).map_err(|m| AppError::validation(&format!("ip_pool[{i}]"), m))?;
            pool.push(net.to_string());
        }
        if !self.inner.store.set_ip_pool(account, pool.clone()).await? {
            return Err(AppError::NotFound("account"));
        }
        self.audit(
            Some(who),
            Some(account),
            from.map(|a| a.to_string()),
            "account.ip_pool_changed",
            Some(format!("ip_pool={}", pool.join(","))),
        )
        .await;
        Ok(pool)
    }

    /// Issues a client certificate for `account` from the appliance CA (created in `<data_dir>/tls` if
    /// missing) and binds it (admin only). The key is returned once and not kept.
    pub async fn issue_client_cert(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        days: u32,
    ) -> AppResult<IssuedCert> {
        who.require_admin()?;
        self.issue_cert_for(who, from, account, days).await
    }

    async fn issue_cert_for(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        days: u32,
    ) -> AppResult<IssuedCert> {
        if days == 0 || days > MAX_CLIENT_CERT_DAYS {
            return Err(AppError::validation(
                "days",
                format!("must be 1 to {MAX_CLIENT_CERT_DAYS}"),
            ));
        }
        let login = self
            .inner
            .store
            .account(account)
            .await?
            .map(|a| a.login)
            .ok_or(AppError::NotFound("account"))?;
        let dir = self.inner.settings.data_dir.join("tls");
        let now =
            OffsetDateTime::from_unix_timestamp(self.now_ms() / 1000).unwrap_or(OffsetDateTime::now_utc());
        let issued = tokio::task::spawn_blocking(move || -> Result<_, crate::tls::TlsError> {
            let (ca, _) = ApplianceCa::load_or_create(&dir)?;
            let (cert_pem, key_pem) = ca.issue_client(&login, Duration::days(i64::from(days)), now)?;
            Ok((cert_pem, key_pem, ca.cert_pem().to_owned()))
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|e| AppError::Internal(e.to_string()))?;
        let (cert_pem, key_pem, ca_pem) = issued;
        let (der, subject, not_after, _) = parse_upload(cert_pem.as_bytes())?;
        let cert = self
            .bind(who, from, account, CertKind::Issued, der, subject, not_after)
            .await?;
        Ok(IssuedCert {
            cert,
            cert_pem,
            key_pem,
            ca_pem,
        })
    }

    /// Binds a customer's certificate (`ca` = false: that exact certificate) or CA (`ca` = true: any
    /// certificate it issued) to `account` (admin only). PEM or DER.
    pub async fn upload_client_cert(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        pem_or_der: &[u8],
        ca: bool,
    ) -> AppResult<AccountCert> {
        who.require_admin()?;
        self.upload_cert_for(who, from, account, pem_or_der, ca).await
    }

    async fn upload_cert_for(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        pem_or_der: &[u8],
        ca: bool,
    ) -> AppResult<AccountCert> {
        let (der, subject, not_after, is_ca) = parse_upload(pem_or_der)?;
        if ca && !is_ca {
            return Err(AppError::validation(
                "certificate",
                "is not a CA certificate (basicConstraints CA:TRUE)",
            ));
        }
        let kind = if ca { CertKind::Ca } else { CertKind::Pinned };
        self.bind(who, from, account, kind, der, subject, not_after).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn bind(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        kind: CertKind,
        der: Vec<u8>,
        subject: String,
        not_after: i64,
    ) -> AppResult<AccountCert> {
        self.require_account(account).await?;
        let fingerprint = stages::fingerprint(&der);
        let cert = self
            .inner
            .store
            .add_account_cert(NewAccountCert {
                account_id: account,
                kind,
                fingerprint: fingerprint.clone(),
                der,
                subject: subject.clone(),
                not_after,
            })
            .await?;
        self.audit(
            Some(who),
            Some(account),
            from.map(|a| a.to_string()),
            "account.cert_bound",
            Some(format!(
                "id={} kind={} sha256={fingerprint} subject={subject}",
                cert.id,
                kind.as_str()
            )),
        )
        .await;
        Ok(cert)
    }

    /// Certificates bound to `account`: admins for any account, anyone for their own.
    pub async fn account_certs(&self, who: &Principal, account: AccountId) -> AppResult<Vec<AccountCert>> {
        if who.account_id != account {
            who.require_admin()?;
        }
        Ok(self.inner.store.account_certs(account).await?)
    }

    /// Revokes certificate `id` of `account` (admin only); refused at once, also on open connections.
    pub async fn revoke_client_cert(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        id: i64,
    ) -> AppResult<()> {
        who.require_admin()?;
        self.revoke_cert_of(who, from, account, id).await
    }

    async fn revoke_cert_of(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        id: i64,
    ) -> AppResult<()> {
        if !self.inner.store.revoke_account_cert(account, id).await? {
            return Err(AppError::NotFound("certificate"));
        }
        self.audit(
            Some(who),
            Some(account),
            from.map(|a| a.to_string()),
            "account.cert_revoked",
            Some(format!("id={id}")),
        )
        .await;
        Ok(())
    }

    /// Revokes, for `account`, a certificate known only by fingerprint (e.g. one issued under an uploaded
    /// customer CA): it is pinned as revoked (admin only).
    pub async fn revoke_fingerprint(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        account: AccountId,
        pem_or_der: &[u8],
    ) -> AppResult<AccountCert> {
        let cert = self
            .upload_client_cert(who, from, account, pem_or_der, false)
            .await?;
        self.revoke_client_cert(who, from, account, cert.id).await?;
        Ok(cert)
    }
}

/// Self-service: the account holder manages the stages of its own account (issue 9: "clients manage
/// their certificates and IP pool"). The account is always the caller's own, so no other account can be
/// named. Only the panel offers these, behind an interactive password session that already passed the
/// current stages and a CSRF check; REST keeps stage management admin-only, so a leaked API token cannot
/// widen its own access. Audited like the admin operations (the actor is the holder).
impl Gateway {
    /// Issues a client certificate for the caller's own account (see [`Gateway::issue_client_cert`]).
    pub async fn issue_own_client_cert(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        days: u32,
    ) -> AppResult<IssuedCert> {
        self.issue_cert_for(who, from, who.account_id, days).await
    }

    /// Pins a certificate or CA to the caller's own account (see [`Gateway::upload_client_cert`]).
    pub async fn upload_own_client_cert(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        pem_or_der: &[u8],
        ca: bool,
    ) -> AppResult<AccountCert> {
        self.upload_cert_for(who, from, who.account_id, pem_or_der, ca)
            .await
    }

    /// Revokes a certificate of the caller's own account; another account's id is `NotFound`.
    pub async fn revoke_own_client_cert(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        id: i64,
    ) -> AppResult<()> {
        self.revoke_cert_of(who, from, who.account_id, id).await
    }

    /// Replaces the caller's own IP pool (see [`Gateway::set_ip_pool`]).
    pub async fn set_own_ip_pool(
        &self,
        who: &Principal,
        from: Option<IpAddr>,
        entries: &[String],
    ) -> AppResult<Vec<String>> {
        self.write_ip_pool(who, from, who.account_id, entries).await
    }
}

impl Gateway {
    /// Every enabled account's IP pool (empty: none), parsed; for [`crate::auth::admission`].
    pub async fn all_ip_pools(&self) -> AppResult<Vec<Vec<ipnet::IpNet>>> {
        let pools = self.inner.store.all_ip_pools().await?;
        Ok(pools
            .iter()
            .map(|p| {
                p.iter()
                    .filter_map(|e| stages::parse_pool_entry(e).ok())
                    .collect()
            })
            .collect())
    }
}
