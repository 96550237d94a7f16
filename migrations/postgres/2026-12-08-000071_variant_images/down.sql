ALTER TABLE variants DROP COLUMN images;
