common::main!(teardown);
