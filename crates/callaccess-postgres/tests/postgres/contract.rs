callaccess_domain::contract_tests!(crate::fresh_or_skip!());
callaccess_domain::audit_contract_tests!(crate::fresh_or_skip!());
