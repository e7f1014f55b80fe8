"""The setup of a model's statements: the one pipeline from an ONNX file to a key
(``pipeline``), the compiled-model folder it reads and writes (``model_folder``), and the check
every client runs on a published setup before it pays (``check``)."""
