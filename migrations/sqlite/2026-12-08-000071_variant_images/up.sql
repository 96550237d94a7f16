-- Pictures per variant (a colour shows its own case), each with alt text and its size in
-- pixels: a JSON array, checked by the application when written; empty text for none.
-- In the variant's row so that rendering a listing needs no further query.
ALTER TABLE variants ADD COLUMN images TEXT NOT NULL DEFAULT '';
