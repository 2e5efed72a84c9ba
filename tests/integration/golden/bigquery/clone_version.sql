CREATE TABLE `acme-data`.`gold__shadow`.`kpis__v4` CLONE `acme-data`.`gold__shadow`.`kpis__v3`;
