use clap::CommandFactory;

use crate::follow::CliError;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    pub shell: clap_complete::Shell,
}

pub fn run(a: CompletionsArgs) -> Result<i32, CliError> {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "pockitect", &mut std::io::stdout());
    Ok(0)
}
