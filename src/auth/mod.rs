//! Credentials: admin passwords (argon2id, hashed off the async executor) and SCIM bearer
//! tokens (random 256-bit secrets stored as SHA-256 and compared in constant time). Random
//! secrets need no slow hash; passwords do.

pub mod password;
pub mod sealing;
pub mod throttle;
pub mod token;
pub mod verified;
