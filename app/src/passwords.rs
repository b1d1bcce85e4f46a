//! Staff passwords: their rules, and argon2id hashing kept off the async workers.
//!
//! Passwords are chosen by people, so they get a slow, salted hash; API keys and device
//! tokens are random and get a fast one (see `secrets`).
//!
//! A hash (or a check of one) takes a good fraction of a second of one core and about
//! 19 MB, and every sign-in makes one, unknown emails included. So at most one runs per
//! core at a time, a bounded number wait behind them, and any more are refused at once
//! ([`HashError::Busy`], answered 503 with `Retry-After`): a flood of sign-ins makes the
//! server answer "busy", never run out of memory or leave other requests without a core.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock, mpsc};

use tokio::sync::oneshot;

use argon2::Argon2;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Block, Params, Version};
use rand::RngCore;

use crate::domain::FieldError;
use crate::secrets;

pub const MIN_PASSWORD_LENGTH: usize = 12;
/// Long enough for any passphrase; short enough that hashing one costs nothing unusual.
pub const MAX_PASSWORD_LENGTH: usize = 1000;

/// A new password must be long enough, and not absurdly long.
pub fn validate_new_password(field: &str, password: &str) -> Result<(), FieldError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LENGTH {
        return Err(FieldError::new(
            field,
            format!("a password has at least {MIN_PASSWORD_LENGTH} characters"),
        ));
    }
    if length > MAX_PASSWORD_LENGTH {
        return Err(FieldError::new(
            field,
            format!("a password has at most {MAX_PASSWORD_LENGTH} characters"),
        ));
    }
    Ok(())
}

/// An argon2id hash (the crate's defaults: 19 MiB, 2 passes, 1 lane) in PHC form.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    hash_in(&mut Memory::new(), password)
}

pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    verify_in(&mut Memory::new(), password, stored_hash)
}

/// Argon2's working memory (19 MB at the default cost). A hashing thread keeps its own
/// for every hash it computes: allocated afresh each time, the allocator would keep a
/// new 19 MB of it after nearly every hash (hundreds of MB after a flood of sign-ins).
type Memory = Vec<Block>;

/// Computes `argon2`'s output for `password` and `salt` into `out`, in `memory`, grown
/// to the size the parameters need. What `memory` held before does not matter: every
/// block is written before it is read.
fn argon2_in(
    memory: &mut Memory,
    argon2: &Argon2<'_>,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let blocks = argon2.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
}

/// What `Argon2::default().hash_password` makes, computed in `memory`.
fn hash_in(memory: &mut Memory, password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt_bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut salt_bytes);
    let salt = SaltString::encode_b64(&salt_bytes)?;
    let argon2 = Argon2::default();
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_in(memory, &argon2, password, &salt_bytes, &mut output)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output)?),
    };
    Ok(hash.to_string())
}

/// What `PasswordVerifier::verify_password` checks, computed in `memory`: the stored
/// hash's algorithm, version, parameters and salt give the stored output again (compared
/// in constant time) only for the right password.
fn verify_in(memory: &mut Memory, password: &str, stored_hash: &str) -> bool {
    let Ok(stored) = PasswordHash::new(stored_hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(stored.algorithm),
        stored
            .version
            .map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(&stored),
    ) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut computed = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    argon2_in(memory, &argon2, password, salt, &mut computed).is_ok()
        && Output::new(&computed).is_ok_and(|computed| computed == expected)
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("this password cannot be used")]
    Unusable,
    #[error("password hashing was interrupted")]
    Interrupted,
    /// As many hashes are running and waiting as this machine takes: try again shortly.
    #[error("too many passwords are being checked at once")]
    Busy,
}

/// Seconds a caller refused with [`HashError::Busy`] is asked to wait: the waiting line
/// is a few hashes per core long, which takes about a second to go through.
pub const BUSY_RETRY_AFTER_SECONDS: i64 = 1;

/// Hashes on a hashing thread: a hash takes a good fraction of a second on purpose.
pub async fn hash_off_runtime(password: String) -> Result<String, HashError> {
    HashWorkers::get()
        .run(move |memory| hash_in(memory, &password))
        .await?
        .map_err(|_| HashError::Unusable)
}

/// Verifies on a hashing thread; `None` checks against the decoy hash (an unknown
/// email), which takes as long.
pub async fn verify_off_runtime(password: String, hash: Option<String>) -> Result<bool, HashError> {
    HashWorkers::get()
        .run(move |memory| match hash {
            Some(hash) => verify_in(memory, &password, &hash),
            None => verify_in(memory, &password, decoy_hash()),
        })
        .await
}

/// Threads that do nothing but hash: one per core, fed by a queue of at most eight jobs
/// per core, each thread with its own argon2 memory. So hashing takes at most a core and
/// 19 MB per core, however many sign-ins arrive.
struct HashWorkers {
    queue: mpsc::SyncSender<HashJob>,
}

type HashJob = Box<dyn FnOnce(&mut Memory) + Send>;

impl HashWorkers {
    /// One set for the whole process: what it protects is the machine.
    fn get() -> &'static Self {
        static WORKERS: OnceLock<HashWorkers> = OnceLock::new();
        WORKERS.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            HashWorkers::start(cores, 8 * cores)
        })
    }

    fn start(threads: usize, most_waiting: usize) -> Self {
        let (queue, jobs) = mpsc::sync_channel::<HashJob>(most_waiting);
        let jobs = Arc::new(Mutex::new(jobs));
        for index in 0..threads {
            let jobs = jobs.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{index}"))
                .spawn(move || {
                    let mut memory = Memory::new();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let next = jobs.lock().map(|jobs| jobs.recv());
                        match next {
                            Ok(Ok(job)) => job(&mut memory),
                            _ => return,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        Self { queue }
    }

    /// Runs `job` on a hashing thread, after those queued before it; refused at once when
    /// the queue is full. A job whose caller has gone by its turn is skipped.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Memory) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let (reply, answer) = oneshot::channel();
        let job: HashJob = Box::new(move |memory| {
            if reply.is_closed() {
                return;
            }
            // A panic ends this job only (its caller hears `Interrupted`), not the thread.
            if let Ok(result) = std::panic::catch_unwind(AssertUnwindSafe(|| job(memory))) {
                let _ = reply.send(result);
            }
        });
        match self.queue.try_send(job) {
            Ok(()) => answer.await.map_err(|_| HashError::Interrupted),
            Err(mpsc::TrySendError::Full(_)) => Err(HashError::Busy),
            Err(mpsc::TrySendError::Disconnected(_)) => Err(HashError::Interrupted),
        }
    }
}

/// A hash to verify against when the email is unknown, so that the answer takes as long
/// as for a known one.
pub fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password for unknown emails").unwrap_or_default())
}

/// A password an admin hands out once: four groups of four letters and digits, easy to
/// read out and type.
pub fn one_time_password() -> String {
    let raw = secrets::new_secret("").plaintext;
    raw.as_bytes()
        .chunks(4)
        .take(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    /// Hashes made in reused memory are the crate's own: each side verifies the other's,
    /// whatever the memory held before.
    #[test]
    fn hashes_in_reused_memory_are_argon2s_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};

        let mut memory = vec![Block::new(); 8];
        let ours = hash_in(&mut memory, "correct horse").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &SaltString::encode_b64(&[7; 16]).unwrap())
            .unwrap()
            .to_string();
        let verifies = |password: &str, hash: &str| {
            Argon2::default()
                .verify_password(password.as_bytes(), &PasswordHash::new(hash).unwrap())
                .is_ok()
        };
        assert!(verifies("correct horse", &ours));
        assert!(!verifies("wrong horse", &ours));
        for _ in 0..2 {
            assert!(verify_in(&mut memory, "correct horse", &theirs));
            assert!(!verify_in(&mut memory, "wrong horse", &theirs));
            assert!(verify_in(&mut memory, "correct horse", &ours));
        }
        // Other parameters, read from the hash: fewer blocks than the memory holds.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse", &SaltString::encode_b64(&[9; 16]).unwrap())
        .unwrap()
        .to_string();
        assert!(verify_in(&mut memory, "correct horse", &small));
        assert!(!verify_in(&mut memory, "correct horse!", &small));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_checks_is_refused_past_the_queue() {
        let workers: &'static HashWorkers = Box::leak(Box::new(HashWorkers::start(1, 2)));
        let (release, released) = mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        let mut jobs = Vec::new();
        for _ in 0..5 {
            let released = released.clone();
            jobs.push(tokio::spawn(workers.run(move |_| {
                let _ = released.lock().unwrap().recv();
            })));
            // In order: the first runs, the next two wait, the last two find no room.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        for _ in 0..5 {
            let _ = release.send(());
        }
        let mut outcomes = Vec::new();
        for job in jobs {
            outcomes.push(matches!(job.await.unwrap(), Err(HashError::Busy)));
        }
        assert_eq!(outcomes, [false, false, false, true, true]);
    }

    #[test]
    fn new_passwords_have_a_minimum_and_maximum_length() {
        assert!(validate_new_password("p", "short").is_err());
        assert!(validate_new_password("p", "long enough pass").is_ok());
        assert!(validate_new_password("p", &"x".repeat(MAX_PASSWORD_LENGTH + 1)).is_err());
    }

    #[test]
    fn one_time_passwords_are_long_enough_and_differ() {
        let a = one_time_password();
        assert_eq!(a.len(), 19);
        assert!(a.len() >= MIN_PASSWORD_LENGTH);
        assert_ne!(a, one_time_password());
    }
}
