"""The read stage, per file: which files a source holds (discover, sources), their bytes to text
(decode), the text to front matter and body (front_matter), and the Article that carries one
file through the transform steps (article)."""
