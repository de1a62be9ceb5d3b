callaccess_domain::contract_tests!(crate::fresh_or_skip!());
