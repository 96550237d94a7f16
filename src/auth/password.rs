//! Password hashing with Argon2id (the `argon2` crate, RustCrypto), OWASP parameters:
//! m = 19 MiB, t = 2, p = 1.
//!
//! Hashing runs on a small dedicated pool (one thread per core). Argon2 is CPU-bound, so
//! more concurrency than cores only queues work in the kernel; and a fresh 19 MiB allocation
//! per login on arbitrary threads grew the allocator's arenas to gigabytes under a login
//! burst. The 19 MiB work buffers are kept between jobs and reused during a burst, then
//! given back to the operating system once no hash has needed them for [`IDLE`]: an instance
//! that is only browsing does not hold 38 MiB for the logins it served an hour ago.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use parking_lot::Mutex;

use crate::invalid::{FieldError, Invalid};

pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;
const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

fn params() -> Params {
    // The constants above are valid; the fallback is the crate's default (also OWASP-grade).
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_LEN)).unwrap_or_default()
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

type Job = Box<dyn FnOnce(&mut [Block]) + Send>;

/// How long an unused work buffer is kept before it is given back.
const IDLE: Duration = Duration::from_secs(10);

/// Work buffers between jobs, with when each was last used. They live here rather than on
/// their threads so that the one thread waiting for jobs can free them all.
#[derive(Default)]
struct Spares(Vec<(Instant, Vec<Block>)>);

impl Spares {
    fn take(&mut self) -> Vec<Block> {
        self.0.pop().map_or_else(
            || vec![Block::default(); params().block_count()],
            |(_, b)| b,
        )
    }

    fn give(&mut self, buffer: Vec<Block>, now: Instant) {
        self.0.push((now, buffer));
    }

    /// Frees the buffers unused since `now - IDLE`.
    fn trim(&mut self, now: Instant) {
        self.0.retain(|(used, _)| now.duration_since(*used) < IDLE);
    }
}

/// The next job, or None when the pool is gone. Whoever waits for it also frees idle
/// buffers, waking every [`IDLE`] to do so (the other workers wait for this lock, holding
/// none).
fn next_job(rx: &Mutex<mpsc::Receiver<Job>>, spares: &Mutex<Spares>) -> Option<Job> {
    let rx = rx.lock();
    loop {
        match rx.recv_timeout(IDLE) {
            Ok(job) => return Some(job),
            Err(RecvTimeoutError::Timeout) => spares.lock().trim(Instant::now()),
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

/// The hashing pool: jobs go to whichever worker is free.
fn pool() -> &'static Mutex<mpsc::Sender<Job>> {
    static POOL: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let spares = Arc::new(Mutex::new(Spares::default()));
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..workers {
            let rx = Arc::clone(&rx);
            let spares = Arc::clone(&spares);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    while let Some(job) = next_job(&rx, &spares) {
                        let mut memory = spares.lock().take();
                        job(&mut memory);
                        spares.lock().give(memory, Instant::now());
                    }
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a password-hashing thread: {e}");
            }
        }
        Mutex::new(tx)
    })
}

/// Computes the raw Argon2id output on the pool (blocking the caller until done).
fn compute(password: &[u8], salt: &[u8]) -> anyhow::Result<[u8; OUTPUT_LEN]> {
    let (reply, answer) = mpsc::channel();
    let password = password.to_vec();
    let salt = salt.to_vec();
    let job: Job = Box::new(move |memory| {
        let mut out = [0u8; OUTPUT_LEN];
        let result = argon2()
            .hash_password_into_with_memory(&password, &salt, &mut out, memory)
            .map(|()| out)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"));
        let _ = reply.send(result);
    });
    pool()
        .lock()
        .send(job)
        .map_err(|_| anyhow::anyhow!("the password-hashing pool is gone"))?;
    answer
        .recv()
        .map_err(|_| anyhow::anyhow!("the password-hashing pool dropped a job"))?
}

/// A password that meets the length rules. Never `Debug`-printed.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(field: &str, raw: String) -> Result<Self, Invalid> {
        let len = raw.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&len) || raw.trim().is_empty() {
            return Err(Invalid::Fields(vec![FieldError::new(
                field,
                format!("must be {MIN_LEN} to {MAX_LEN} characters"),
            )]));
        }
        Ok(Self(raw))
    }

    /// The PHC string `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
    pub fn hash(&self) -> anyhow::Result<String> {
        let mut salt = [0u8; SALT_LEN];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
            .map_err(|_| anyhow::anyhow!("system random generator failed"))?;
        let out = compute(self.0.as_bytes(), &salt)?;
        Ok(format!(
            "$argon2id$v=19$m={MEMORY_KIB},t={ITERATIONS},p={PARALLELISM}${}${}",
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(out)
        ))
    }
}

/// Whether `password` matches the stored PHC string. Hashes with the current parameters
/// verify on the pool; older parameters (after a policy change) verify the slow way.
pub fn verify(stored: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let current = parsed.algorithm.as_str() == "argon2id"
        && parsed.version == Some(0x13)
        && parsed.params.get_decimal("m") == Some(MEMORY_KIB)
        && parsed.params.get_decimal("t") == Some(ITERATIONS)
        && parsed.params.get_decimal("p") == Some(PARALLELISM);
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    if !current || expected.len() != OUTPUT_LEN {
        return argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    match compute(password.as_bytes(), salt) {
        Ok(out) => crate::crypto::constant_time_eq(&out, expected.as_bytes()),
        Err(e) => {
            tracing::error!("password verification failed to run: {e:#}");
            false
        }
    }
}

/// Spends the same work as a real verification, for logins with an unknown email, so the
/// answer takes comparable time either way.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| {
        Password("dummy password for timing".into())
            .hash()
            .unwrap_or_default()
    });
    let _ = verify(stored, password);
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString};

    #[test]
    fn work_buffers_are_reused_in_a_burst_and_freed_once_idle() {
        let mut spares = Spares::default();
        let start = Instant::now();
        let buffer = spares.take();
        assert_eq!(buffer.len(), params().block_count());
        spares.give(buffer, start);
        spares.trim(start + IDLE - Duration::from_millis(1));
        assert_eq!(spares.0.len(), 1, "a buffer used within IDLE is kept");
        let reused = spares.take();
        assert!(spares.0.is_empty(), "the kept buffer is handed out again");
        spares.give(reused, start);
        spares.trim(start + IDLE);
        assert!(spares.0.is_empty(), "a buffer idle for IDLE is freed");
    }

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let p = Password::parse("password", "correct horse battery".into()).unwrap();
        let stored = p.hash().unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify(&stored, "correct horse battery"));
        assert!(!verify(&stored, "correct horse batterz"));
        assert!(!verify("not a hash", "x"));
    }

    #[test]
    fn our_hashes_are_standard_phc_strings() {
        // The reference implementation verifies what the pool produced, and vice versa.
        let stored = Password("interoperable secret".into()).hash().unwrap();
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(argon2()
            .verify_password(b"interoperable secret", &parsed)
            .is_ok());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let reference = argon2()
            .hash_password(b"other secret", &salt)
            .unwrap()
            .to_string();
        assert!(verify(&reference, "other secret"));
    }

    #[test]
    fn hashes_with_other_parameters_still_verify() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        );
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let stored = weak
            .hash_password(b"legacy secret", &salt)
            .unwrap()
            .to_string();
        assert!(verify(&stored, "legacy secret"));
        assert!(!verify(&stored, "legacy secreT"));
    }

    #[test]
    fn length_rules_apply() {
        assert!(Password::parse("password", "short".into()).is_err());
        assert!(Password::parse("password", "x".repeat(129)).is_err());
        assert!(Password::parse("password", " ".repeat(12)).is_err());
    }
}
