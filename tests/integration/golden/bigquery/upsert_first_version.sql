CREATE TABLE `acme-data`.`gold__shadow`.`kpis__v6` AS SELECT `day`, `amount`, `note`, `updated_at` FROM `acme-data`.`gold__shadow`.`kpis__v6__batch` WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY `day` ORDER BY `updated_at` DESC, `day` DESC, `amount` DESC, `note` DESC) = 1;
DROP TABLE IF EXISTS `acme-data`.`gold__shadow`.`kpis__v6__batch`;
