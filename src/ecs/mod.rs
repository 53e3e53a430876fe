//! Amazon ECS: what the task metadata endpoint says about where we run.

pub mod metadata;
