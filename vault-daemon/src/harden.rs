//! Process hardening for the agent: no core dumps, no ptrace by other
//! processes of the same user, files private by default.

use nix::sys::resource::{Resource, setrlimit};
use nix::sys::stat::{Mode, umask};

/// Turn off core dumps (and with them same-uid ptrace), and make every file
/// the agent creates private (umask 077). Failures are logged, not fatal.
pub fn harden_process() {
    if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
        tracing::warn!("could not disable core dumps: {e}");
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!("could not mark the agent non-dumpable: {e}");
    }
    umask(Mode::from_bits_truncate(0o077));
}

/// True when core dumps are off for this process.
pub fn core_dumps_disabled() -> bool {
    nix::sys::resource::getrlimit(Resource::RLIMIT_CORE)
        .is_ok_and(|(soft, hard)| soft == 0 && hard == 0)
}
