//! Kannel `dlr-url` subscriptions on PostgreSQL: stored with the submission, and claimed by one node at a
//! time for the callback (`SKIP LOCKED`, for one lease), like webhook rows.
use super::super::{
    AccountId, KannelDlrDue, MessageId, MessageStatus, NewKannelDlr, NewMessage, StoreError, StoreResult,
    Submitted,
};
use super::PgStore;
use super::queue::insert_submission;

fn small(v: i32) -> u8 {
    u8::try_from(v).unwrap_or(0)
}

impl PgStore {
    /// [`PgStore::submit`] plus a DLR subscription for each created message, in one transaction.
    pub async fn submit_with_dlr(
        &self,
        account: AccountId,
        messages: Vec<NewMessage>,
        dlr: Option<NewKannelDlr>,
        now: i64,
    ) -> StoreResult<Submitted> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let submitted = insert_submission(&tx, account, None, messages, now).await?;
        if let (Some(d), Submitted::Created(created)) = (&dlr, &submitted) {
            let insert = tx
                .prepare("INSERT INTO kannel_dlr (message_id, url, mask, sender) VALUES ($1, $2, $3, $4)")
                .await?;
            for m in created {
                tx.execute(
                    &insert,
                    &[&m.id.to_string(), &d.url, &i32::from(d.mask), &d.sender],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(submitted)
    }

    /// Claims subscriptions whose message changed status since last handled and which are due at `now`.
    pub async fn kannel_dlr_due(&self, now: i64, limit: u32) -> StoreResult<Vec<KannelDlrDue>> {
        let until = now.saturating_add(self.node.lease_ms);
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "WITH c AS (
                     SELECT d.message_id FROM kannel_dlr d JOIN messages m ON m.id = d.message_id
                     WHERE m.status NOT IN ('queued', 'sending') AND m.status <> d.seen_status
                       AND d.next_at <= $1 AND (d.claim_until IS NULL OR d.claim_until < $1)
                     ORDER BY d.next_at LIMIT $2
                     FOR UPDATE OF d SKIP LOCKED)
                 UPDATE kannel_dlr d SET claim_node = $3, claim_until = $4
                 FROM c, messages m WHERE d.message_id = c.message_id AND m.id = d.message_id
                 RETURNING d.message_id, d.url, d.mask, d.sender, d.reported, d.attempts, m.recipient, m.status,
                           m.srr, m.error, m.modem, d.next_at",
                &[&now, &i64::from(limit), &self.node.node_id, &until],
            )
            .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<_, i64>(11)?,
                    KannelDlrDue {
                        message_id: r
                            .try_get::<_, &str>(0)?
                            .parse()
                            .map_err(|_| StoreError::bad_row("kannel_dlr message id"))?,
                        url: r.try_get(1)?,
                        mask: small(r.try_get(2)?),
                        sender: r.try_get(3)?,
                        reported: small(r.try_get(4)?),
                        attempts: u32::try_from(r.try_get::<_, i32>(5)?).unwrap_or(0),
                        recipient: r.try_get(6)?,
                        status: r
                            .try_get::<_, &str>(7)?
                            .parse()
                            .map_err(|_| StoreError::bad_row("message status"))?,
                        delivery_report: r.try_get(8)?,
                        error: r.try_get(9)?,
                        modem: r.try_get(10)?,
                    },
                ))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by_key(|(next, _)| *next);
        Ok(out.into_iter().map(|(_, d)| d).collect())
    }

    /// Records that the DLR types `reported` are handled; `finished` removes the subscription.
    pub async fn kannel_dlr_reported(
        &self,
        id: MessageId,
        reported: u8,
        status: MessageStatus,
        finished: bool,
    ) -> StoreResult<()> {
        let client = self.pool.get().await?;
        if finished {
            client
                .execute("DELETE FROM kannel_dlr WHERE message_id = $1", &[&id.to_string()])
                .await?;
        } else {
            client
                .execute(
                    "UPDATE kannel_dlr SET reported = $2, seen_status = $3, attempts = 0, next_at = 0,
                         claim_node = NULL, claim_until = NULL
                     WHERE message_id = $1",
                    &[&id.to_string(), &i32::from(reported), &status.as_str()],
                )
                .await?;
        }
        Ok(())
    }

    /// Records a failed callback: retry at `next_at`, or drop the subscription (`None`).
    pub async fn kannel_dlr_failed(
        &self,
        id: MessageId,
        reported: u8,
        next_at: Option<i64>,
    ) -> StoreResult<()> {
        let client = self.pool.get().await?;
        match next_at {
            Some(at) => {
                client
                    .execute(
                        "UPDATE kannel_dlr SET reported = $2, attempts = attempts + 1, next_at = $3,
                             claim_node = NULL, claim_until = NULL
                         WHERE message_id = $1",
                        &[&id.to_string(), &i32::from(reported), &at],
                    )
                    .await?
            }
            None => {
                client
                    .execute("DELETE FROM kannel_dlr WHERE message_id = $1", &[&id.to_string()])
                    .await?
            }
        };
        Ok(())
    }
}
