callaccess_domain::contract_tests!(crate::fresh());
callaccess_domain::audit_contract_tests!(crate::fresh());
