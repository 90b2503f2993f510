//! Destinations on another machine, reached over SSH: the second half of the transport layer.
//!
//! The rooms, lowest first:
//!
//! - [`ssh`]: reaching a host: `ssh_config`, `known_hosts`, connect and authenticate (libssh2);
//! - [`protocol`], [`wire`]: the messages between tern and its agent, and their framed,
//!   compressed byte streams;
//! - [`agent`]: the far end (`tern serve`), which applies requests to a [`crate::transport::local`]
//!   directory there;
//! - [`client`]: this end of the protocol;
//! - [`sftp`]: the fallback for hosts without tern;
//! - [`host`]: an SSH destination as a [`crate::transport::Transport`]: the agent if the host
//!   has tern, else SFTP.

pub mod agent;
pub mod client;
pub mod host;
pub mod protocol;
pub mod sftp;
pub mod ssh;
pub mod wire;
