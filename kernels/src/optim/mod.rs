//! Optimisers over flat parameter slices; the caller owns the step counter and the state.
