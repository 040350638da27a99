common::main!(net_up);
