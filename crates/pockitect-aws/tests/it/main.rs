mod deploy;
mod power;
mod terminate;
