//! AWS Step Functions (awsJson 1.0) for Brume: state machines in the Amazon States
//! Language, executions run by Brume and persisted at each transition, and their history.
//!
//! - [`asl`]: the language as pure functions of their inputs (validation, paths, payload
//!   templates, intrinsic functions, Choice rules, Retry and Catch), no IO.

pub mod asl;
