"""The transform stage, per file: an Article -> its row or a reject. process.STEPS is the list
of steps; the other modules are what the steps call: fields (front matter -> columns), title,
ids (the row's id and its invariant), rules, clean and markdown (body -> paragraphs), language,
quality, dates."""
