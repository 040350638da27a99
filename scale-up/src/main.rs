common::main!(scale_up);
