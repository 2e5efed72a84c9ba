CREATE SCHEMA IF NOT EXISTS `acme-data`.`gold__shadow`;
CREATE SCHEMA IF NOT EXISTS `acme-data`.`gold`;
