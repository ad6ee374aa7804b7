//! `smsgate account delete-data LOGIN` (dispatched from `account.rs`): an admin's request to delete all
//! data of an account, from the appliance's shell. With the service stopped the data is erased at once; with the service running the
//! request is recorded in its database and its deletion scheduler carries it out within the hour.
use std::time::Duration;

use anyhow::{Context, bail};
use smsgate::app::backup::{BackupError, lock_data_dir};
use smsgate::app::{AccountId, Gateway, Principal, Role};
use smsgate::store::{NewAuditEntry, NewDeletionRequest, Store, now_ms};

use super::settings::cli_actor;

/// How long the offline erasure waits for sends in flight (none: the service is stopped).
const OFFLINE_WAIT: Duration = Duration::from_secs(1);

/// Runs `smsgate account delete-data LOGIN`.
pub fn delete_data(settings: smsgate::config::Settings, login: &str) -> anyhow::Result<()> {
    let login = login.to_owned();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let actor = cli_actor();
        match lock_data_dir(&settings.data_dir) {
            Ok(lock) => {
                let (gw, _) = Gateway::open_for_admin(settings).await?;
                let result = erase_offline(&gw, &actor, &login).await;
                gw.shutdown().await;
                drop(lock);
                result
            }
            Err(BackupError::ServiceRunning(_)) => request_online(&settings, &actor, &login).await,
            Err(e) => Err(e.into()),
        }
    })
}

async fn erase_offline(gw: &Gateway, actor: &str, login: &str) -> anyhow::Result<()> {
    let account = gw
        .find_account_by_login(login)
        .await?
        .with_context(|| format!("no account {login:?}"))?;
    let who = Principal {
        account_id: AccountId(0),
        login: actor.to_owned(),
        role: Role::Admin,
    };
    let accepted = gw
        .request_account_deletion(&who, account.id, Some("local".into()))
        .await?;
    if !accepted.erased && gw.erase_account_now(account.id, OFFLINE_WAIT).await?.is_none() {
        bail!("account {login:?} could not be erased completely; run the command again");
    }
    println!("account {login:?} (id {}) and all its data deleted", account.id.0);
    Ok(())
}

async fn request_online(
    settings: &smsgate::config::Settings,
    actor: &str,
    login: &str,
) -> anyhow::Result<()> {
    let store = Store::open(&settings.database_path())?;
    // On a cluster node the account and its request live in the shared database.
    if settings.cluster.enabled {
        let pg = smsgate::store::pg::PgStore::connect(settings).await?;
        store.attach_cluster(std::sync::Arc::new(pg));
    }
    let result = async {
        let account = store
            .account_by_login(login)
            .await?
            .with_context(|| format!("no account {login:?}"))?;
        let now = now_ms();
        store
            .request_deletion(NewDeletionRequest {
                account_id: account.id,
                requested_by: Some(actor.to_owned()),
                source_ip: Some("local".into()),
                requested_at: now,
                execute_after: now,
            })
            .await?;
        store
            .audit(
                NewAuditEntry {
                    actor: Some(actor.to_owned()),
                    account_id: Some(account.id),
                    source_ip: Some("local".into()),
                    action: "account.deletion_requested".into(),
                    details: Some(format!("execute_after={now}")),
                },
                now,
            )
            .await?;
        println!(
            "the service is running: deletion of {login:?} (id {}) is queued and runs within the hour",
            account.id.0
        );
        anyhow::Ok(())
    }
    .await;
    store.close().await?;
    result
}
