common::main!(alb_up);
