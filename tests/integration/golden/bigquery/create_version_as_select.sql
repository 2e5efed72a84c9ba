CREATE TABLE `acme-data`.`gold__shadow`.`kpis__v3` AS SELECT day, amount, note FROM `acme-data`.`gold__shadow`.`kpis__v2` WHERE NOT amount IS NULL;
