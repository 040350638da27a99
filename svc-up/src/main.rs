common::main!(svc_up);
