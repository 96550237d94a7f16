-- Privacy policy versions. Version 1 is the shop's published policy, inserted at start-up.
CREATE TABLE policies (
    version      INTEGER PRIMARY KEY NOT NULL,
    text         TEXT      NOT NULL,
    summary      TEXT      NOT NULL,
    sha256       TEXT      NOT NULL,
    published_at TIMESTAMP NOT NULL
);
