//! Authentication and authorisation: scopes and the privilege mapping, password hashing, token
//! minting and the cached token authenticator. Knows nothing of HTTP.

mod authenticator;
pub mod lockout;
pub mod password;
pub mod scopes;
pub mod secret;

pub use authenticator::{AuthError, Authenticator, Principal};
pub use scopes::{Privilege, Profile, Scope, ScopeSet};
