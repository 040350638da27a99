common::main!(cluster_up);
