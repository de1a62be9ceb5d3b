callaccess_domain::contract_tests!(crate::fresh());
