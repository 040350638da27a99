common::main!(secrets_up);
