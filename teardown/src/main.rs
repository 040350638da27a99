common::main!(teardown, without_spec);
