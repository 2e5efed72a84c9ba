CREATE OR REPLACE VIEW `acme-data`.`gold`.`kpis` AS SELECT * FROM `acme-data`.`gold__shadow`.`kpis__v3`;
