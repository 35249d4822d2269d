//! The shared store on Redis: one Lua script per operation, so each is atomic. The async and
//! blocking stores share the scripts and their arguments; only the connection differs.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use juhe_transport::BoxError;
use redis::{Script, ScriptInvocation};

#[cfg(feature = "reqwest")]
use super::store::SharedStore;
use super::store::{BlockingSharedStore, StoreOp, StoreReply};
use crate::rate_limit::{CATCH_UP, DECREASE, DECREASE_HOLD, MIN_FACTOR, RECOVERY_PER_SEC};

/// GCRA on Redis's clock, granted only when due (see `rate_limit.rs`): returns 0 when a slot
/// is granted, else the microseconds to wait (nothing booked). KEYS: bucket, slow-down.
/// ARGV: interval µs, burst, recovery per µs, minimum factor, catch-up µs.
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local factor = 1
local s = redis.call('GET', KEYS[2])
if s then
  local f, since = string.match(s, '^([%d.]+):(%d+)$')
  if f then factor = math.min(1, tonumber(f) + (now - tonumber(since)) * tonumber(ARGV[3])) end
end
factor = math.max(factor, tonumber(ARGV[4]))
local interval = tonumber(ARGV[1]) / factor
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat + tonumber(ARGV[5]) < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return math.ceil(wait) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// A 10012: multiply the factor by ARGV[1], at most once per ARGV[2] µs. KEYS: slow-down.
/// ARGV: decrease, hold µs, recovery per µs, minimum factor.
const SLOW_DOWN: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local factor = 1
local s = redis.call('GET', KEYS[1])
if s then
  local f, since = string.match(s, '^([%d.]+):(%d+)$')
  if f then
    if now - tonumber(since) < tonumber(ARGV[2]) then return 0 end
    factor = math.min(1, tonumber(f) + (now - tonumber(since)) * tonumber(ARGV[3]))
  end
end
factor = math.max(factor * tonumber(ARGV[1]), tonumber(ARGV[4]))
redis.call('SET', KEYS[1], string.format('%.6f:%.0f', factor, now), 'PX', 600000)
return 1
";

/// Claim, or count a waiter. Returns '' when claimed, else the value found. An in-flight
/// marker past its expiry is taken over (`p:`, not sent) or becomes ambiguous (`s:`, sent),
/// kept as long as answers are (`x1:`) or for the waiters (`x0:`). KEYS: state, waiters.
/// ARGV: marker, lease ms, waiting, linger ms, grace ms (≥ keep), keep ms, take ambiguous.
const CLAIM: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
local v = redis.call('GET', KEYS[1])
if v then
  local kind = string.sub(v, 1, 2)
  if kind == 'p:' or kind == 's:' then
    local expires = tonumber(string.match(v, '^.:(%d+):'))
    if expires == nil or expires < now then
      if kind == 's:' then
        if tonumber(ARGV[6]) > 0 then
          v = 'x1:' .. string.format('%.0f', now)
          redis.call('SET', KEYS[1], v, 'PX', ARGV[6])
        else
          v = 'x0:' .. string.format('%.0f', now)
          redis.call('SET', KEYS[1], v, 'PX', ARGV[4])
        end
      else
        v = false
      end
    end
  end
  if v and string.sub(v, 1, 1) == 'x' and ARGV[7] == '1' then v = false end
end
if not v then
  redis.call('SET', KEYS[1], 'p:' .. string.format('%.0f', now + lease) .. ':' .. ARGV[1], 'PX', lease + tonumber(ARGV[5]))
  if ARGV[3] == '1' then redis.call('DECR', KEYS[2]) end
  return ''
end
local kind = string.sub(v, 1, 2)
if kind == 'p:' or kind == 's:' then
  if ARGV[3] == '0' then redis.call('INCR', KEYS[2]) end
  redis.call('PEXPIRE', KEYS[2], lease + tonumber(ARGV[5]))
end
return v
";

/// The holder extends its lease, as `p:` or (sent) `s:`. Returns 1, or 0 when it no longer
/// holds the pair. KEYS: state. ARGV: marker, lease ms, kind, grace ms.
const HOLD: &str = r"
local v = redis.call('GET', KEYS[1])
local kind = v and string.sub(v, 1, 2)
if not v or (kind ~= 'p:' and kind ~= 's:') or string.sub(v, -string.len(ARGV[1])) ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if kind == 's:' then ARGV[3] = 's' end
redis.call('SET', KEYS[1], ARGV[3] .. ':' .. string.format('%.0f', now + tonumber(ARGV[2])) .. ':' .. ARGV[1], 'PX', tonumber(ARGV[2]) + tonumber(ARGV[4]))
return 1
";

/// Settle: only the marker's holder; the value kept for ms, or for waiters only, or removed.
/// KEYS: state, waiters. ARGV: marker, value ('' frees the pair), keep ms (0: waiters only),
/// linger ms.
const SETTLE: &str = r"
local v = redis.call('GET', KEYS[1])
local kind = v and string.sub(v, 1, 2)
if not v or (kind ~= 'p:' and kind ~= 's:') or string.sub(v, -string.len(ARGV[1])) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) return 1 end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1
";

/// Leave: one waiter fewer; the last one removes a value kept only for waiters (`a0:`, `x0:`).
/// KEYS: state, waiters. ARGV: the value read ('' if none).
const LEAVE: &str = r"
local n = redis.call('DECR', KEYS[2])
if n <= 0 then
  redis.call('DEL', KEYS[2])
  local kind = string.sub(ARGV[1], 1, 2)
  if (kind == 'a0' or kind == 'x0' or kind == 'x:') and redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
  end
end
return n
";

/// A unit of every budget, or none. KEYS: the budgets' counters. ARGV: their limits, then
/// their time to live in ms. Returns {0, used…}, or {i} when budget i is spent.
const SPEND: &str = r"
local n = #KEYS - 1
local used = {0}
for i = 1, n do
  local u = redis.call('INCR', KEYS[i])
  if u == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[n + i]) end
  if u > tonumber(ARGV[i]) then
    for j = 1, i do redis.call('DECR', KEYS[j]) end
    return {i}
  end
  used[i + 1] = u
end
redis.call('SET', KEYS[n + 1], '1', 'PX', ARGV[2 * n + 1])
return used
";

/// Gives units back (never below zero), once per spend. KEYS: the budgets' counters, then the
/// spend's receipt when ARGV[1] is 1: no receipt (never spent, or already refunded), no refund.
const REFUND: &str = r"
local n = #KEYS
if ARGV[1] == '1' then
  if redis.call('DEL', KEYS[n]) == 0 then return 0 end
  n = n - 1
end
for i = 1, n do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
";

/// How long a spend's receipt waits for its refund: longer than a check lives after taking
/// its units; a refund later than that is dropped (a unit kept, never one given twice).
const RECEIPT_TTL: Duration = Duration::from_secs(600);

/// How long a pair's key outlives its marker's expiry (at least; as long as answers are kept
/// when that is longer), so that a dead holder's `s:` is still there to be read as ambiguous
/// by callers that come later.
const GRACE: Duration = Duration::from_secs(60);

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Parses a Redis URL without keeping its text in any error (it may hold a password). A
/// `rediss://` URL trusts `roots` (PEM) when given, else the system's roots.
fn open(url: &str, roots: &[String]) -> Result<redis::Client, BoxError> {
    let invalid = |_| -> BoxError {
        "the Redis URL is not valid (redis://[user:password@]host[:port][/db] or rediss://…)".into()
    };
    if roots.is_empty() || !url.starts_with("rediss://") {
        return redis::Client::open(url).map_err(invalid);
    }
    let info = redis::IntoConnectionInfo::into_connection_info(url).map_err(invalid)?;
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(roots.join("\n").into_bytes()),
    };
    Ok(redis::Client::build_with_tls(info, certificates)?)
}

/// The store refused this client (a password, a permission, a database, TLS): a
/// configuration error for the user to fix, not an outage to fall back from.
#[derive(Debug, thiserror::Error)]
#[error("{problem}")]
pub(crate) struct Misconfigured {
    pub(crate) problem: &'static str,
    #[source]
    source: redis::RedisError,
}

/// What is wrong with the configuration, when a failure says so.
fn misconfiguration(e: &redis::RedisError) -> Option<&'static str> {
    use redis::ErrorKind as K;
    if e.kind() == K::AuthenticationFailed || matches!(e.code(), Some("NOAUTH" | "WRONGPASS")) {
        return Some(
            "the shared store (Redis) refused the credentials in its URL; check the password in the Redis URL",
        );
    }
    if e.code() == Some("NOPERM") {
        return Some(
            "the Redis user may not run the fleet's scripts (ACL NOPERM): allow EVALSHA and EVAL",
        );
    }
    if e.kind() == K::InvalidClientConfig || e.detail().is_some_and(|d| d.contains("DB index")) {
        return Some("the Redis URL cannot be used: check its host, port and database number");
    }
    let tls = std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData);
    tls.then_some(
        "the TLS connection to Redis failed (an untrusted certificate, or rediss:// to a port without TLS)",
    )
}

/// A failed operation, with a misconfiguration told apart from an unreachable store.
fn failure(e: redis::RedisError) -> BoxError {
    match misconfiguration(&e) {
        Some(problem) => Box::new(Misconfigured { problem, source: e }),
        None => Box::new(e),
    }
}

struct Scripts {
    reserve: Script,
    slow_down: Script,
    claim: Script,
    hold: Script,
    settle: Script,
    leave: Script,
    spend: Script,
    refund: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            reserve: Script::new(RESERVE),
            slow_down: Script::new(SLOW_DOWN),
            claim: Script::new(CLAIM),
            hold: Script::new(HOLD),
            settle: Script::new(SETTLE),
            leave: Script::new(LEAVE),
            spend: Script::new(SPEND),
            refund: Script::new(REFUND),
        }
    }

    /// The script of one operation with its keys and arguments, for either connection kind.
    fn invocation(&self, op: &StoreOp) -> ScriptInvocation<'_> {
        let recovery_per_us = format!("{:.12}", RECOVERY_PER_SEC / 1e6);
        match op {
            StoreOp::Reserve {
                bucket,
                slow,
                interval,
                burst,
            } => {
                let mut call = self.reserve.key(bucket);
                call.key(slow)
                    .arg(micros(*interval))
                    .arg((*burst).max(1))
                    .arg(recovery_per_us)
                    .arg(MIN_FACTOR)
                    .arg(micros(CATCH_UP));
                call
            }
            StoreOp::SlowDown { slow } => {
                let mut call = self.slow_down.key(slow);
                call.arg(DECREASE)
                    .arg(micros(DECREASE_HOLD))
                    .arg(recovery_per_us)
                    .arg(MIN_FACTOR);
                call
            }
            StoreOp::Claim { .. } => self.claim(op),
            StoreOp::Hold {
                keys,
                marker,
                lease,
                sent,
                keep,
            } => {
                let mut call = self.hold.key(&keys.state);
                call.arg(marker)
                    .arg(millis(*lease))
                    .arg(if *sent { "s" } else { "p" })
                    .arg(millis(GRACE.max(*keep)));
                call
            }
            StoreOp::Settle {
                keys,
                marker,
                value,
                keep,
                linger,
            } => {
                let mut call = self.settle.key(&keys.state);
                call.key(&keys.waiters)
                    .arg(marker)
                    .arg(value.as_deref().unwrap_or(""))
                    .arg(if keep.is_zero() { 0 } else { millis(*keep) })
                    .arg(millis(*linger));
                call
            }
            StoreOp::Leave { keys, value } => {
                let mut call = self.leave.key(&keys.state);
                call.key(&keys.waiters).arg(value.as_deref().unwrap_or(""));
                call
            }
            StoreOp::Spend { .. } | StoreOp::Refund { .. } => self.budget(op),
        }
    }
}

impl Scripts {
    /// A claim (its arguments are the most).
    fn claim(&self, op: &StoreOp) -> ScriptInvocation<'_> {
        let StoreOp::Claim {
            keys,
            marker,
            lease,
            waiting,
            keep,
            take_ambiguous,
        } = op
        else {
            return self.invocation(op);
        };
        let mut call = self.claim.key(&keys.state);
        call.key(&keys.waiters)
            .arg(marker)
            .arg(millis(*lease))
            .arg(if *waiting { "1" } else { "0" })
            .arg(millis(super::policy::LINGER))
            .arg(millis(GRACE.max(*keep)))
            .arg(if keep.is_zero() { 0 } else { millis(*keep) })
            .arg(if *take_ambiguous { "1" } else { "0" });
        call
    }

    /// The budgets' operations.
    fn budget(&self, op: &StoreOp) -> ScriptInvocation<'_> {
        match op {
            StoreOp::Spend {
                keys,
                limits,
                ttls,
                receipt,
            } => {
                let mut call = self.spend.prepare_invoke();
                call.key(keys).key(receipt);
                call.arg(limits);
                call.arg(ttls.iter().map(|t| millis(*t)).collect::<Vec<_>>());
                call.arg(millis(RECEIPT_TTL));
                call
            }
            StoreOp::Refund { keys, receipt } => {
                let mut call = self.refund.prepare_invoke();
                call.key(keys);
                match receipt {
                    Some(receipt) => call.key(receipt).arg("1"),
                    None => call.arg("0"),
                };
                call
            }
            other => self.invocation(other),
        }
    }
}

fn reply(value: redis::RedisResult<redis::Value>) -> Result<StoreReply, BoxError> {
    match value.map_err(failure)? {
        redis::Value::Int(n) => Ok(StoreReply::Int(n)),
        redis::Value::Array(items) => Ok(StoreReply::Ints(
            items
                .into_iter()
                .map(redis::from_redis_value::<i64>)
                .collect::<Result<_, _>>()?,
        )),
        other => Ok(StoreReply::Text(redis::from_redis_value(other)?)),
    }
}

/// The async store on Redis (with `reqwest`, which brings tokio), through redis-rs's tokio
/// connection manager (connected on first
/// use; after a failed operation a fresh one is made on the next use, so a restarted Redis is
/// found again). Every operation is bounded by the store timeout. `Debug` never shows the URL
/// (it may hold a password).
#[cfg(feature = "reqwest")]
pub(crate) struct RedisStore {
    client: redis::Client,
    connection: Mutex<Option<redis::aio::ConnectionManager>>,
    timeout: Duration,
    scripts: Scripts,
}

#[cfg(feature = "reqwest")]
impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

#[cfg(feature = "reqwest")]
impl RedisStore {
    /// A store at `url` (`redis://[user:password@]host[:port][/db]`, or `rediss://` with
    /// TLS trusting `roots` if any); nothing connects yet.
    pub(crate) fn new(
        url: &str,
        timeout: Duration,
        roots: &[String],
    ) -> Result<RedisStore, BoxError> {
        Ok(RedisStore {
            client: open(url, roots)?,
            connection: Mutex::new(None),
            timeout,
            scripts: Scripts::new(),
        })
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<redis::aio::ConnectionManager>> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn connection(&self) -> Result<redis::aio::ConnectionManager, BoxError> {
        if let Some(manager) = self.slot().as_ref() {
            return Ok(manager.clone());
        }
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(0);
        let manager = redis::aio::ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(failure)?;
        Ok(self.slot().get_or_insert(manager).clone())
    }
}

#[cfg(feature = "reqwest")]
#[async_trait::async_trait]
impl SharedStore for RedisStore {
    async fn run(&self, op: &StoreOp) -> Result<StoreReply, BoxError> {
        let invocation = self.scripts.invocation(op);
        let call = async {
            let mut connection = self.connection().await?;
            reply(invocation.invoke_async(&mut connection).await)
        };
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err("the Redis operation timed out".into()),
        };
        if result.is_err() {
            *self.slot() = None;
        }
        result
    }
}

/// The blocking store on Redis over one synchronous connection (opened on first use and again
/// after a failure), with read and write timeouts.
pub(crate) struct BlockingRedisStore {
    client: redis::Client,
    connection: Mutex<Option<redis::Connection>>,
    timeout: Duration,
    scripts: Scripts,
}

impl fmt::Debug for BlockingRedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingRedisStore").finish_non_exhaustive()
    }
}

impl BlockingRedisStore {
    /// A store at `url` (see [`RedisStore::new`]); nothing connects yet.
    pub(crate) fn new(
        url: &str,
        timeout: Duration,
        roots: &[String],
    ) -> Result<BlockingRedisStore, BoxError> {
        Ok(BlockingRedisStore {
            client: open(url, roots)?,
            connection: Mutex::new(None),
            timeout,
            scripts: Scripts::new(),
        })
    }
}

impl BlockingSharedStore for BlockingRedisStore {
    fn run(&self, op: &StoreOp) -> Result<StoreReply, BoxError> {
        let invocation = self.scripts.invocation(op);
        let mut slot = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            let connection = self
                .client
                .get_connection_with_timeout(self.timeout)
                .map_err(failure)?;
            connection.set_read_timeout(Some(self.timeout))?;
            connection.set_write_timeout(Some(self.timeout))?;
            *slot = Some(connection);
        }
        let connection = slot.as_mut().expect("connected just above");
        let result = invocation.invoke::<redis::Value>(connection);
        if result.is_err() {
            // A timed-out or broken connection may hold a late reply: never reuse it.
            *slot = None;
        }
        reply(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(url: &str, key: &str) -> i64 {
        let mut connection = redis::Client::open(url).unwrap().get_connection().unwrap();
        redis::cmd("GET")
            .arg(key)
            .query::<Option<i64>>(&mut connection)
            .unwrap()
            .unwrap_or(0)
    }

    /// A refund gives a spend's unit back once, and never a unit no spend took: a check
    /// dropped while its spend was on the way must not lower another check's count.
    #[test]
    fn a_refund_needs_its_spends_receipt_and_happens_once() {
        let redis = juhe_sandbox::RedisServer::start().unwrap();
        let url = redis.url();
        let store = BlockingRedisStore::new(&url, Duration::from_secs(2), &[]).unwrap();
        let key = "b:test".to_owned();
        let spend = |receipt: &str| {
            store
                .run(&StoreOp::Spend {
                    keys: vec![key.clone()],
                    limits: vec![5],
                    ttls: vec![Duration::from_secs(60)],
                    receipt: receipt.to_owned(),
                })
                .unwrap()
        };
        let refund = |receipt: &str| {
            store
                .run(&StoreOp::Refund {
                    keys: vec![key.clone()],
                    receipt: Some(receipt.to_owned()),
                })
                .unwrap()
        };
        assert_eq!(spend("b:r:1"), StoreReply::Ints(vec![0, 1]));
        assert_eq!(spend("b:r:2"), StoreReply::Ints(vec![0, 2]));
        refund("b:r:never-spent");
        assert_eq!(counter(&url, &key), 2, "no receipt, no refund");
        refund("b:r:1");
        assert_eq!(counter(&url, &key), 1);
        refund("b:r:1");
        assert_eq!(counter(&url, &key), 1, "a refund happens once");
        refund("b:r:2");
        assert_eq!(counter(&url, &key), 0);
    }
}
