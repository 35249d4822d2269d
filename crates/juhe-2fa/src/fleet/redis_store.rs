//! The shared store on Redis: one Lua script per operation, so each is atomic.

use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use juhe_transport::BoxError;
use redis::{Script, ScriptInvocation};

use super::{BlockingSharedStore, Claim, PairKeys, SharedStore};

/// GCRA reservation on Redis's clock. Returns the wait in microseconds.
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return wait
";

/// Claim: SET NX PX, or count a waiter. Returns '' when claimed, else the value found.
const CLAIM: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  if ARGV[3] == '1' then redis.call('DECR', KEYS[2]) end
  return ''
end
if string.sub(v, 1, 2) == 'p:' and ARGV[3] == '0' then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return v
";

/// Settle: only the marker's holder; answer kept for ttl, or for waiters only, or removed.
const SETTLE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) return 1 end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return 1
";

/// Leave: one waiter fewer; the last one removes an answer kept only for waiters.
const LEAVE: &str = r"
local n = redis.call('DECR', KEYS[2])
if n <= 0 then
  redis.call('DEL', KEYS[2])
  if ARGV[1] ~= '' and string.sub(ARGV[1], 1, 3) == 'a0:' and redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
  end
end
return n
";

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn claim_of(found: String) -> Claim {
    if found.is_empty() {
        Claim::Claimed
    } else if found.starts_with("p:") {
        Claim::InFlight
    } else {
        Claim::Answer(found)
    }
}

/// Parses a Redis URL without keeping its text in any error (it may hold a password).
fn open(url: &str) -> Result<redis::Client, BoxError> {
    redis::Client::open(url).map_err(|_| {
        "the Redis URL is not valid (redis://[user:password@]host[:port][/db] or rediss://…)".into()
    })
}

struct Scripts {
    reserve: Script,
    claim: Script,
    settle: Script,
    leave: Script,
}

/// Each operation's script with its keys and arguments, for either connection kind.
impl Scripts {
    fn new() -> Scripts {
        Scripts {
            reserve: Script::new(RESERVE),
            claim: Script::new(CLAIM),
            settle: Script::new(SETTLE),
            leave: Script::new(LEAVE),
        }
    }

    fn reserve(&self, bucket: &str, interval: Duration, burst: u32) -> ScriptInvocation<'_> {
        let mut call = self.reserve.key(bucket);
        call.arg(micros(interval)).arg(burst.max(1));
        call
    }

    fn claim(
        &self,
        keys: &PairKeys,
        marker: &str,
        lease: Duration,
        waiting: bool,
    ) -> ScriptInvocation<'_> {
        let mut call = self.claim.key(&keys.state);
        call.key(&keys.waiters)
            .arg(marker)
            .arg(millis(lease))
            .arg(if waiting { "1" } else { "0" });
        call
    }

    fn settle(
        &self,
        keys: &PairKeys,
        marker: &str,
        answer: Option<&str>,
        (keep, linger): (Duration, Duration),
    ) -> ScriptInvocation<'_> {
        let mut call = self.settle.key(&keys.state);
        call.key(&keys.waiters)
            .arg(marker)
            .arg(answer.unwrap_or(""))
            .arg(if keep.is_zero() { 0 } else { millis(keep) })
            .arg(millis(linger));
        call
    }

    fn leave(&self, keys: &PairKeys, answer: Option<&str>) -> ScriptInvocation<'_> {
        let mut call = self.leave.key(&keys.state);
        call.key(&keys.waiters).arg(answer.unwrap_or(""));
        call
    }
}

/// [`SharedStore`] on Redis through redis-rs's tokio connection manager (connected on first
/// use; after a failed operation a fresh one is made on the next use, so a restarted Redis is
/// found again). Every operation is bounded by the store timeout. `Debug` never shows the URL
/// (it may hold a password).
pub struct RedisStore {
    client: redis::Client,
    connection: Mutex<Option<redis::aio::ConnectionManager>>,
    timeout: Duration,
    scripts: Scripts,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` (`redis://[user:password@]host[:port][/db]`); nothing connects yet.
    pub fn new(url: &str, timeout: Duration) -> Result<RedisStore, BoxError> {
        Ok(RedisStore {
            client: open(url)?,
            connection: Mutex::new(None),
            timeout,
            scripts: Scripts::new(),
        })
    }

    fn slot(&self) -> MutexGuard<'_, Option<redis::aio::ConnectionManager>> {
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
        let manager =
            redis::aio::ConnectionManager::new_with_config(self.client.clone(), config).await?;
        Ok(self.slot().get_or_insert(manager).clone())
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, BoxError> {
        let call = async {
            let mut connection = self.connection().await?;
            Ok::<T, BoxError>(invocation.invoke_async(&mut connection).await?)
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

#[async_trait::async_trait]
impl SharedStore for RedisStore {
    async fn reserve(
        &self,
        bucket: &str,
        interval: Duration,
        burst: u32,
    ) -> Result<Duration, BoxError> {
        let call = self.scripts.reserve(bucket, interval, burst);
        Ok(Duration::from_micros(self.run::<u64>(call).await?))
    }

    async fn claim(
        &self,
        keys: &PairKeys,
        marker: &str,
        lease: Duration,
        waiting: bool,
    ) -> Result<Claim, BoxError> {
        let call = self.scripts.claim(keys, marker, lease, waiting);
        Ok(claim_of(self.run::<String>(call).await?))
    }

    async fn settle(
        &self,
        keys: &PairKeys,
        marker: &str,
        answer: Option<&str>,
        keep: Duration,
        linger: Duration,
    ) -> Result<(), BoxError> {
        let call = self.scripts.settle(keys, marker, answer, (keep, linger));
        self.run::<i64>(call).await.map(drop)
    }

    async fn leave(&self, keys: &PairKeys, answer: Option<&str>) -> Result<(), BoxError> {
        let call = self.scripts.leave(keys, answer);
        self.run::<i64>(call).await.map(drop)
    }
}

/// [`BlockingSharedStore`] on Redis over one synchronous connection (opened on first use and
/// again after a failure), with read and write timeouts.
pub struct BlockingRedisStore {
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
    /// A store at `url`; nothing connects yet.
    pub fn new(url: &str, timeout: Duration) -> Result<BlockingRedisStore, BoxError> {
        Ok(BlockingRedisStore {
            client: open(url)?,
            connection: Mutex::new(None),
            timeout,
            scripts: Scripts::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<redis::Connection>> {
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, BoxError> {
        let mut slot = self.lock();
        if slot.is_none() {
            let connection = self.client.get_connection_with_timeout(self.timeout)?;
            connection.set_read_timeout(Some(self.timeout))?;
            connection.set_write_timeout(Some(self.timeout))?;
            *slot = Some(connection);
        }
        let connection = slot.as_mut().expect("connected just above");
        let result = invocation.invoke(connection);
        if result.is_err() {
            // A timed-out or broken connection may hold a late reply: never reuse it.
            *slot = None;
        }
        Ok(result?)
    }
}

impl BlockingSharedStore for BlockingRedisStore {
    fn reserve(&self, bucket: &str, interval: Duration, burst: u32) -> Result<Duration, BoxError> {
        let call = self.scripts.reserve(bucket, interval, burst);
        Ok(Duration::from_micros(self.run::<u64>(&call)?))
    }

    fn claim(
        &self,
        keys: &PairKeys,
        marker: &str,
        lease: Duration,
        waiting: bool,
    ) -> Result<Claim, BoxError> {
        let call = self.scripts.claim(keys, marker, lease, waiting);
        Ok(claim_of(self.run::<String>(&call)?))
    }

    fn settle(
        &self,
        keys: &PairKeys,
        marker: &str,
        answer: Option<&str>,
        keep: Duration,
        linger: Duration,
    ) -> Result<(), BoxError> {
        let call = self.scripts.settle(keys, marker, answer, (keep, linger));
        self.run::<i64>(&call).map(drop)
    }

    fn leave(&self, keys: &PairKeys, answer: Option<&str>) -> Result<(), BoxError> {
        let call = self.scripts.leave(keys, answer);
        self.run::<i64>(&call).map(drop)
    }
}
