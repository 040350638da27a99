//! Man pages and shell completions, generated from each tool's clap definition
//! (`net-up --generate man > net-up.1`), so they never drift from the flags.
//! `make install` puts them where man and the shells look.

use crate::error::{Error, Result};

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Man,
    Bash,
    Zsh,
    Fish,
}

/// Prints `kind` for `cmd` on stdout.
pub fn print(mut cmd: clap::Command, kind: Kind) -> Result<()> {
    let name = cmd.get_name().to_owned();
    let mut out = std::io::stdout().lock();
    let shell = match kind {
        Kind::Man => {
            return match clap_mangen::Man::new(cmd).render(&mut out) {
                // The reader went away (`| head`): not our failure.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(Error::Io(format!("cannot write the man page: {e}")))
                }
                _ => Ok(()),
            };
        }
        Kind::Bash => clap_complete::Shell::Bash,
        Kind::Zsh => clap_complete::Shell::Zsh,
        Kind::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    Ok(())
}
