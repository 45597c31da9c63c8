"""The model store (DIGITS' format): list the models of remote or local stores, push one in as a
pretrained model, publish a trained model into a file:// store."""
