//! Unit tests of the desired state.

use super::*;
