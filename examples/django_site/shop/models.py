"""The shop's one table, on PostgreSQL (`--db postgres`; setup.sql makes and fills it)."""

from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)
    price = models.IntegerField()
    stock = models.IntegerField()

    class Meta:
        db_table = "shop_product"
