//! What a file tree is, and how a source tree is read: the first stage of every run.
//!
//! Everything here describes or reads *one* tree and knows nothing of destinations, plans or
//! the network. The rooms, lowest first (each imports only those before it):
//!
//! - [`path`]: [`path::RelPath`], the only path type that crosses a machine;
//! - [`hash`], [`chunk`]: content hashes and content-defined chunking over `impl Read`;
//! - [`blocks`]: rsync's block signatures and deltas, for the chunks that changed;
//! - [`codec`]: the bounded binary encoding under every on-disk and on-wire format;
//! - [`manifest`]: the manifest types and their versioned file format;
//! - [`store`]: manifests held encoded (in a temporary file once large) and read one entry
//!   at a time;
//! - [`filter`]: exclude patterns;
//! - [`meta`]: an entry's metadata as this machine's file system holds it, read and applied;
//! - [`sparse`]: holes of sparse files, skipped when read and made again when written;
//! - [`state`]: the `.tern` directory a replicated tree keeps at its top (lock, manifest,
//!   staging, trash and its index);
//! - [`beneath`]: entries below a destination's top reached through directory handles, never
//!   through a symlink;
//! - [`scan`]: the source walk and its hash cache, producing the source's manifest.

pub mod beneath;
pub mod blocks;
pub mod chunk;
pub mod codec;
pub mod filter;
pub mod hash;
pub mod manifest;
pub mod meta;
pub mod path;
pub mod scan;
pub mod sparse;
pub mod state;
pub mod store;
