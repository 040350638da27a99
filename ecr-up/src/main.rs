common::main!(ecr_up);
