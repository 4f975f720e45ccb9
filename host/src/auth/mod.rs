//! Authentication and authorisation: scopes and the privilege mapping, password hashing, token
//! minting and lifetimes, and the cached token authenticator. Knows nothing of HTTP.

mod authenticator;
mod hash_pool;
pub mod lifetimes;
pub mod lockout;
pub mod password;
pub mod scopes;
pub mod secret;
pub mod session;
mod settings;

pub use authenticator::{AuthError, Authenticator, Principal};
pub use lifetimes::Lifetimes;
pub use scopes::{Privilege, Profile, Scope, ScopeSet};
pub use settings::AuthConfig;
